import type { Clock } from "../clock.js";
import type { RoomId } from "../ids.js";
import type { Logger } from "../log.js";
import type { Notice, NoticeSink } from "../machines/notices.js";
import type { MatrixGateway, MatrixText } from "./gateway.js";
import { renderNotice } from "./render.js";

const ATTEMPTS = 5;
const FIRST_DELAY_MS = 1_000;

/**
 * Sends notices to rooms without making anyone wait, and without giving up on the first failure:
 * a homeserver that is restarting gets a few tries with backoff (about half a minute in all)
 * before the notice is logged as lost.
 */
export class Notifier implements NoticeSink {
  constructor(
    private readonly matrix: MatrixGateway,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  notice(roomId: RoomId, notice: Notice): void {
    this.send(roomId, renderNotice(notice), notice.kind);
  }

  send(roomId: RoomId, message: MatrixText, what = "message"): void {
    void this.attempt(roomId, message, what, 1);
  }

  private async attempt(roomId: RoomId, message: MatrixText, what: string, attempt: number): Promise<void> {
    try {
      await this.matrix.notice(roomId, message);
    } catch (err) {
      if (attempt >= ATTEMPTS) {
        this.log.error({ err, roomId, what }, "gave up sending a notice");
        return;
      }
      this.log.warn({ err, roomId, what, attempt }, "sending a notice failed; will retry");
      this.clock.setTimeout(() => void this.attempt(roomId, message, what, attempt + 1), FIRST_DELAY_MS * 2 ** (attempt - 1));
    }
  }
}
