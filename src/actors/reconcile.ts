import type { Clock } from "../clock.js";
import type { LinkId } from "../ids.js";
import type { Logger } from "../log.js";
import { isMessagingCapable } from "../providers/types.js";
import type { Storage } from "../storage/index.js";
import type { ProviderClients } from "./clients.js";
import type { Deliver } from "./intake.js";

/** Texts are looked for this far before the last check, so one arriving during a check isn't missed. */
const OVERLAP_MS = 10 * 60_000;
/** A new link looks back this far: texts sent to the number just before it was linked. */
const FIRST_LOOK_BACK_MS = 60 * 60_000;

export interface ReconcileDeps {
  storage: Storage;
  clients: ProviderClients;
  deliver: Deliver;
  clock: Clock;
  log: Logger;
}

/**
 * Twilio does not retry a webhook the bridge missed (while it was down, say). The provider's own
 * message list is the record: every inbound text there that the bridge has not stored goes
 * through the same intake as a webhook would. Returns how many texts were recovered.
 */
export async function reconcileLink(deps: ReconcileDeps, linkId: LinkId): Promise<number> {
  const link = deps.storage.links.get(linkId);
  if (!link) return 0;
  const client = deps.clients.forLink(link);
  if (!isMessagingCapable(client)) return 0;
  const startedAt = deps.clock.now();
  const since = (deps.storage.reconcileMarks.get(linkId) ?? link.createdAt - FIRST_LOOK_BACK_MS) - OVERLAP_MS;
  const listed = await client.listMessages({ to: link.phoneNumber, since });
  let recovered = 0;
  for (const message of [...listed].sort((a, b) => a.createdAt - b.createdAt)) {
    if (message.direction !== "inbound" || !message.from || deps.storage.messages.byProviderId(message.providerMessageId)) continue;
    const media = message.mediaCount > 0 ? await client.mediaOf(message.providerMessageId) : [];
    deps.deliver({
      type: "sms.received",
      linkId,
      providerMessageId: message.providerMessageId,
      from: message.from,
      to: link.phoneNumber,
      body: message.body,
      media,
    });
    recovered++;
  }
  deps.storage.reconcileMarks.set(linkId, startedAt);
  if (recovered > 0) deps.log.info({ linkId, recovered }, "recovered texts that no webhook had brought");
  return recovered;
}
