import type { LinkStateName } from "../machines/link.machine.js";
import type { Notice } from "../machines/notices.js";
import { formatNumber } from "../numbers.js";
import type { MatrixText } from "./gateway.js";
import { markup } from "./text.js";

const PROVIDER_NAMES: Record<string, string> = { twilio: "Twilio" };
const provider = (kind: string) => PROVIDER_NAMES[kind] ?? kind;

const STATE_WORDS: Record<LinkStateName, string> = {
  linking: "linking (checking the credentials and setting up the number)",
  linked: "linked",
  degraded: "degraded (the provider can't be reached right now; retrying)",
  "bad-credentials": "not working: the provider refused the credentials or the number",
  paused: "paused (the bot was removed from this room)",
  unlinking: "unlinking",
  unlinked: "unlinked",
};

const seconds = (ms: number) => (ms >= 60_000 ? `${Math.round(ms / 60_000)} min` : `${Math.round(ms / 1000)} s`);

/** The words for each notice a machine emits. */
export function renderNotice(notice: Notice): MatrixText {
  switch (notice.kind) {
    case "link.started":
      return markup(`Linking ${formatNumber(notice.number)} through ${provider(notice.provider)}…`);
    case "link.linked": {
      const lines = [
        `✅ Linked ${formatNumber(notice.number)} (${provider(notice.provider)} account "${notice.accountName}"). Texts and calls to this number now come to this room.`,
        ...notice.warnings.map((w) => `⚠️ ${w}`),
      ];
      return markup(lines.join("\n"));
    }
    case "link.failed":
      return markup(
        `❌ Could not link ${formatNumber(notice.number)}: ${notice.reason}\nFix it and send \`link ${notice.provider} …\` again, or \`unlink\` to give up.`,
      );
    case "link.degraded":
      return markup(`⚠️ ${provider(notice.provider)} is not answering: ${notice.reason} Retrying in ${seconds(notice.retryInMs)}.`);
    case "link.recovered":
      return markup(`✅ ${provider(notice.provider)} is reachable again; ${formatNumber(notice.number)} is linked.`);
    case "link.repaired":
      return markup(
        `⚠️ The webhooks of ${formatNumber(notice.number)} at ${provider(notice.provider)} no longer pointed at the bridge (changed in the console?). I've pointed them back; texts and calls that came in meanwhile are being fetched.`,
      );
    case "link.status": {
      const lines = [
        `**Number:** ${formatNumber(notice.number)} via ${provider(notice.provider)} (account \`${notice.accountRef}\`)`,
        `**State:** ${STATE_WORDS[notice.state]}`,
      ];
      if (notice.balance) lines.push(`**Balance:** ${notice.balance.amount} ${notice.balance.currency}`);
      if (notice.reason) lines.push(`**Reason:** ${notice.reason}`);
      return markup(lines.join("\n"));
    }
    case "link.unlinked": {
      if (notice.restored) {
        return markup(`Unlinked ${formatNumber(notice.number)}. Its webhooks are back to what they were before it was linked.`);
      }
      const previous = Object.entries(notice.previous ?? {})
        .filter(([key, value]) => value && key.endsWith("url"))
        .map(([key, value]) => `\`${key}\` = ${value}`);
      return markup(
        [
          `Unlinked ${formatNumber(notice.number)}, but its settings at the provider could not be put back: ${notice.reason ?? "unknown error"}`,
          previous.length ? `Restore them by hand in the provider's console: ${previous.join(", ")}.` : "Its webhooks were empty before; clear them in the provider's console.",
        ].join("\n"),
      );
    }
    case "link.unlink-retrying":
      return markup(`Could not restore the number's settings yet (${notice.reason}). Retrying in ${seconds(notice.retryInMs)}.`);
    case "link.busy":
      return markup(
        `This room is already linked to ${formatNumber(notice.number)} (${STATE_WORDS[notice.state]}). A control room links one number: \`unlink\` it first, or use another room for another number.`,
      );
    case "link.none":
      return markup("No number is linked to this room. Link one with `link twilio <AccountSid> <AuthToken> <+number>`.");
    case "room.paused":
      return markup("The bridge is paused in this room.");
    case "room.resumed":
      return markup("I'm back. The link is active again.");
    case "internal-error":
      return markup(`⚠️ Something went wrong inside the bridge with ${notice.what}. It has been reset; the details are in the bridge's log.`);
  }
}
