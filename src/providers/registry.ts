import type { Config } from "../config/types.js";
import { BridgeError } from "../errors.js";
import type { ProviderKind } from "../ids.js";
import { createTwilioConnector } from "./twilio/connector.js";
import type { ProviderConnector } from "./types.js";

/** The providers this bridge offers, by kind, as the config enables them. */
export class ProviderRegistry {
  private readonly connectors = new Map<ProviderKind, ProviderConnector>();

  constructor(connectors: ProviderConnector[]) {
    for (const connector of connectors) this.connectors.set(connector.kind, connector);
  }

  static fromConfig(config: Config): ProviderRegistry {
    const connectors: ProviderConnector[] = [];
    if (config.providers.twilio.enabled) connectors.push(createTwilioConnector({ apiBaseUrl: config.providers.twilio.apiBaseUrl }));
    return new ProviderRegistry(connectors);
  }

  list(): ProviderConnector[] {
    return [...this.connectors.values()];
  }

  find(kind: string): ProviderConnector | undefined {
    return this.connectors.get(kind as ProviderKind);
  }

  get(kind: ProviderKind): ProviderConnector {
    const connector = this.connectors.get(kind);
    if (!connector) {
      throw new BridgeError("provider-unknown", `provider ${kind} is not enabled`, {
        userMessage: `The ${kind} provider is not enabled on this bridge.`,
      });
    }
    return connector;
  }
}
