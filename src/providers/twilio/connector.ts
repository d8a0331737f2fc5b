import { BridgeError } from "../../errors.js";
import type { ProviderConnector, LinkRequest } from "../types.js";
import { TwilioClient } from "./client.js";
import { createTwilioSdk } from "./sdk.js";
import { twilioWebhooks } from "./webhooks.js";
import { Secret } from "../../secret.js";

const ACCOUNT_SID = /^AC[0-9a-fA-F]{32}$/;
const AUTH_TOKEN = /^[A-Za-z0-9]{16,64}$/;

const USAGE = "`link twilio <AccountSid> <AuthToken> <+number>`";

export interface TwilioSettings {
  /** Replaces https://api.twilio.com (the carrier simulator); null for Twilio itself. */
  apiBaseUrl: string | null;
}

export function createTwilioConnector(settings: TwilioSettings): ProviderConnector {
  return {
    kind: "twilio",
    displayName: "Twilio",
    linkUsage: USAGE,

    parseLinkArgs(args): LinkRequest {
      const [accountSid, authToken, ...numberParts] = args;
      if (!accountSid || !authToken || numberParts.length === 0) {
        throw new BridgeError("command-usage", "link twilio needs three arguments", {
          userMessage: `Usage: ${USAGE}. Both values are on the front page of the Twilio console; the number is one of the account's phone numbers.`,
        });
      }
      if (!ACCOUNT_SID.test(accountSid)) {
        // Quote the value only when it is a mistyped sid: with the arguments swapped it is the
        // Auth Token, and this reply stays in the room after the `link` message is redacted.
        const shown = accountSid.startsWith("AC") ? `\`${accountSid.slice(0, 40)}\`` : "The first value";
        throw new BridgeError("command-usage", "not a twilio account sid", {
          userMessage: `${shown} is not a Twilio Account SID (it starts with AC and has 32 hexadecimal digits after that). Usage: ${USAGE}.`,
        });
      }
      if (!AUTH_TOKEN.test(authToken)) {
        throw new BridgeError("command-usage", "not a twilio auth token", {
          userMessage: `The second value doesn't look like a Twilio Auth Token (letters and digits only). Usage: ${USAGE}.`,
        });
      }
      return { accountRef: accountSid, credentials: new Secret({ authToken }), number: numberParts.join(" ") };
    },

    createClient(account) {
      const { authToken } = account.credentials.reveal();
      return new TwilioClient(createTwilioSdk(account.accountRef, authToken ?? "", settings.apiBaseUrl), account.accountRef, authToken ?? "");
    },

    webhooks: twilioWebhooks,
  };
}
