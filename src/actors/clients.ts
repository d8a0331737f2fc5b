import type { LinkId } from "../ids.js";
import type { ProviderRegistry } from "../providers/registry.js";
import type { ProviderClient } from "../providers/types.js";
import type { LinkRecord } from "../storage/links.js";

/**
 * One provider client per link, kept while its credentials stay the same: building a client is
 * cheap, but reusing it keeps its HTTP connections alive between texts.
 */
export class ProviderClients {
  private readonly clients = new Map<LinkId, { record: LinkRecord; key: string; client: ProviderClient }>();

  constructor(private readonly providers: ProviderRegistry) {}

  forLink(link: LinkRecord): ProviderClient {
    const cached = this.clients.get(link.id);
    if (cached?.record === link) return cached.client;
    const key = JSON.stringify([link.accountRef, link.credentials.reveal()]);
    if (cached?.key === key) {
      cached.record = link;
      return cached.client;
    }
    const client = this.providers.get(link.provider).createClient({ accountRef: link.accountRef, credentials: link.credentials });
    this.clients.set(link.id, { record: link, key, client });
    return client;
  }
}
