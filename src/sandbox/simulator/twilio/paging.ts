/**
 * Twilio's list paging: `PageSize` (default 50, at most 1000), `Page` (zero-based) and an opaque
 * `PageToken`. The simulator's tokens are `PA<sid>` (the page after that item) and `PB<sid>` (the
 * page before it), the same shape Twilio's look like. Every page URI repeats the list's filters,
 * as Twilio's do, so following `next_page_uri` alone continues the same query.
 */

export interface PageEnvelope {
  end: number;
  first_page_uri: string;
  next_page_uri: string | null;
  page: number;
  page_size: number;
  previous_page_uri: string | null;
  start: number;
  uri: string;
}

export type Query = Record<string, string | string[] | undefined>;

/** The first value of a query or form parameter. */
export function first(query: Query, key: string): string | undefined {
  const value = query[key];
  return Array.isArray(value) ? value[0] : value;
}

function integer(query: Query, key: string, fallback: number): number {
  const raw = first(query, key);
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  // Lenient on purpose: the simulator has no verified Twilio error for a malformed paging value.
  return Number.isInteger(value) && value >= 0 ? value : fallback;
}

const encodePairs = (pairs: ReadonlyArray<readonly [string, string]>): string =>
  pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&");

export function paginate<T>(
  all: readonly T[],
  sidOf: (item: T) => string,
  query: Query,
  path: string,
  filters: ReadonlyArray<readonly [string, string]>,
): { envelope: PageEnvelope; items: T[] } {
  const pageSize = Math.min(Math.max(integer(query, "PageSize", 50), 1), 1000);
  const page = integer(query, "Page", 0);
  const token = first(query, "PageToken");

  let start = page * pageSize;
  if (token && token.length > 2) {
    const index = all.findIndex((item) => sidOf(item) === token.slice(2));
    if (index >= 0) start = token.startsWith("PB") ? Math.max(index - pageSize, 0) : index + 1;
  }
  const items = all.slice(start, start + pageSize);

  const uriFor = (pageNumber: number, pageToken?: string): string => {
    const pairs: Array<readonly [string, string]> = [
      ...filters,
      ["PageSize", String(pageSize)],
      ["Page", String(pageNumber)],
    ];
    if (pageToken) pairs.push(["PageToken", pageToken]);
    return `${path}?${encodePairs(pairs)}`;
  };
  const last = items.at(-1);
  const head = items[0];
  const hasNext = start + items.length < all.length && last !== undefined;
  const hasPrevious = start > 0 && head !== undefined;

  return {
    items,
    envelope: {
      end: items.length > 0 ? start + items.length - 1 : start,
      first_page_uri: uriFor(0),
      next_page_uri: hasNext ? uriFor(page + 1, `PA${sidOf(last)}`) : null,
      page,
      page_size: pageSize,
      previous_page_uri: hasPrevious ? uriFor(Math.max(page - 1, 0), `PB${sidOf(head)}`) : null,
      start,
      uri: uriFor(page, token),
    },
  };
}
