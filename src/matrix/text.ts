import type { MatrixText } from "./gateway.js";

const escapeHtml = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/**
 * Builds a message from lightly marked-up text: `code` spans and **bold**, lines kept. The plain
 * body drops the markers' HTML but keeps the backticks, which read fine in any client.
 */
export function markup(text: string): MatrixText {
  const html = escapeHtml(text)
    .replace(/`([^`]+)`/g, "<code>$1</code>")
    .replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>")
    .replace(/\n/g, "<br>");
  return { text: text.replace(/\*\*([^*]+)\*\*/g, "$1"), html };
}
