/**
 * A deliberately small Matrix client for the end-to-end tests: it acts as a person through the
 * client-server API of the real Synapse, with plain fetch, and waits for things by polling
 * `/messages` and `/state`, which is simple and plenty fast on loopback.
 */
export interface ClientEvent {
  event_id: string;
  type: string;
  sender: string;
  state_key?: string;
  content: Record<string, unknown>;
  unsigned?: Record<string, unknown>;
}

export class MatrixError extends Error {
  constructor(
    readonly status: number,
    readonly errcode: string,
    message: string,
  ) {
    super(message);
  }
}

let txn = 0;

export class TestUser {
  constructor(
    readonly homeserver: string,
    readonly userId: string,
    private readonly token: string,
  ) {}

  async request<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${this.homeserver}/_matrix/client/v3${path}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = (await response.json().catch(() => ({}))) as Record<string, unknown>;
    if (!response.ok) {
      throw new MatrixError(response.status, String(json.errcode ?? ""), `${method} ${path}: ${response.status} ${String(json.error ?? "")}`);
    }
    return json as T;
  }

  async upload(data: Buffer, contentType: string, filename: string): Promise<string> {
    const response = await fetch(`${this.homeserver}/_matrix/media/v3/upload?filename=${encodeURIComponent(filename)}`, {
      method: "POST",
      headers: { authorization: `Bearer ${this.token}`, "content-type": contentType },
      body: data,
    });
    const json = (await response.json()) as { content_uri?: string };
    if (!response.ok || !json.content_uri) throw new Error(`upload failed: ${response.status}`);
    return json.content_uri;
  }

  async download(mxc: string): Promise<{ data: Buffer; contentType: string }> {
    const [, server, id] = /^mxc:\/\/([^/]+)\/(.+)$/.exec(mxc) ?? [];
    const response = await fetch(`${this.homeserver}/_matrix/client/v1/media/download/${server}/${id}`, {
      headers: { authorization: `Bearer ${this.token}` },
    });
    if (!response.ok) throw new Error(`download failed: ${response.status}`);
    return { data: Buffer.from(await response.arrayBuffer()), contentType: response.headers.get("content-type") ?? "" };
  }

  async sendContent(roomId: string, content: Record<string, unknown>, type = "m.room.message"): Promise<string> {
    const { event_id } = await this.request<{ event_id: string }>(
      "PUT",
      `/rooms/${encodeURIComponent(roomId)}/send/${type}/t${Date.now()}-${txn++}`,
      content,
    );
    return event_id;
  }

  async createRoom(options: { name?: string; invite?: string[]; encrypted?: boolean; isDirect?: boolean } = {}): Promise<string> {
    const initialState = options.encrypted
      ? [{ type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } }]
      : [];
    const { room_id } = await this.request<{ room_id: string }>("POST", "/createRoom", {
      preset: "private_chat",
      name: options.name,
      invite: options.invite ?? [],
      is_direct: options.isDirect ?? false,
      initial_state: initialState,
    });
    return room_id;
  }

  async invite(roomId: string, userId: string): Promise<void> {
    await this.request("POST", `/rooms/${encodeURIComponent(roomId)}/invite`, { user_id: userId });
  }

  async join(roomId: string): Promise<void> {
    await this.request("POST", `/join/${encodeURIComponent(roomId)}`, {});
  }

  async kick(roomId: string, userId: string, reason = "test"): Promise<void> {
    await this.request("POST", `/rooms/${encodeURIComponent(roomId)}/kick`, { user_id: userId, reason });
  }

  async send(roomId: string, body: string): Promise<string> {
    const { event_id } = await this.request<{ event_id: string }>(
      "PUT",
      `/rooms/${encodeURIComponent(roomId)}/send/m.room.message/t${Date.now()}-${txn++}`,
      { msgtype: "m.text", body },
    );
    return event_id;
  }

  async state(roomId: string, type: string, stateKey = ""): Promise<Record<string, unknown> | null> {
    try {
      return await this.request("GET", `/rooms/${encodeURIComponent(roomId)}/state/${type}/${encodeURIComponent(stateKey)}`);
    } catch (err) {
      if (err instanceof MatrixError && err.status === 404) return null;
      throw err;
    }
  }

  async setPowerLevel(roomId: string, userId: string, level: number): Promise<void> {
    const current = (await this.state(roomId, "m.room.power_levels")) ?? {};
    const users = { ...((current.users as Record<string, number>) ?? {}), [userId]: level };
    await this.request("PUT", `/rooms/${encodeURIComponent(roomId)}/state/m.room.power_levels/`, { ...current, users });
  }

  async event(roomId: string, eventId: string): Promise<ClientEvent> {
    return this.request("GET", `/rooms/${encodeURIComponent(roomId)}/event/${encodeURIComponent(eventId)}`);
  }

  /** The room's recent timeline, oldest first. */
  async timeline(roomId: string, limit = 100): Promise<ClientEvent[]> {
    const { chunk } = await this.request<{ chunk: ClientEvent[] }>(
      "GET",
      `/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=${limit}`,
    );
    return chunk.reverse();
  }

  async joinedRooms(): Promise<string[]> {
    return (await this.request<{ joined_rooms: string[] }>("GET", "/joined_rooms")).joined_rooms;
  }

  async membership(roomId: string, userId: string): Promise<string | null> {
    const member = await this.state(roomId, "m.room.member", userId);
    return (member?.membership as string | undefined) ?? null;
  }

  private since: string | undefined;
  private readonly pendingInvites = new Map<string, { type: string; sender: string; state_key?: string; content: Record<string, unknown> }[]>();

  /**
   * Follows /sync incrementally (Synapse caches identical initial syncs for minutes, so polling
   * the same request would not show a new invite) and keeps the invites still open.
   */
  private async syncInvites(): Promise<void> {
    type Sync = {
      next_batch: string;
      rooms?: {
        invite?: Record<string, { invite_state?: { events?: { type: string; sender: string; state_key?: string; content: Record<string, unknown> }[] } }>;
        join?: Record<string, unknown>;
        leave?: Record<string, unknown>;
      };
    };
    const sync = await this.request<Sync>("GET", `/sync?timeout=0${this.since ? `&since=${encodeURIComponent(this.since)}` : ""}`);
    this.since = sync.next_batch;
    for (const [room, invite] of Object.entries(sync.rooms?.invite ?? {})) this.pendingInvites.set(room, invite.invite_state?.events ?? []);
    for (const room of [...Object.keys(sync.rooms?.join ?? {}), ...Object.keys(sync.rooms?.leave ?? {})]) this.pendingInvites.delete(room);
  }

  /** Rooms this user is invited to right now. */
  async invites(): Promise<string[]> {
    await this.syncInvites();
    return [...this.pendingInvites.keys()];
  }

  /** The stripped state an invite showed (who created the room, its name, ...). */
  inviteState(roomId: string) {
    return this.pendingInvites.get(roomId) ?? [];
  }

  /** Waits for a timeline event matching `predicate` that is newer than `after` (an event id). */
  async waitFor(
    roomId: string,
    predicate: (event: ClientEvent) => boolean,
    options: { timeoutMs?: number; after?: string; what?: string } = {},
  ): Promise<ClientEvent> {
    const deadline = Date.now() + (options.timeoutMs ?? 20_000);
    let last: ClientEvent[] = [];
    while (Date.now() < deadline) {
      last = await this.timeline(roomId);
      const start = options.after ? last.findIndex((e) => e.event_id === options.after) + 1 : 0;
      const found = last.slice(start).find(predicate);
      if (found) return found;
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    const seen = last.slice(-8).map((e) => `${e.type} ${e.sender}: ${String(e.content.body ?? e.content.membership ?? "")}`.slice(0, 160));
    throw new Error(`timed out waiting for ${options.what ?? "an event"} in ${roomId}; last events:\n  ${seen.join("\n  ")}`);
  }

  /** Waits for a notice from `sender` whose body matches. */
  waitForNotice(roomId: string, sender: string, match: RegExp, after?: string): Promise<ClientEvent> {
    return this.waitFor(
      roomId,
      (e) => e.type === "m.room.message" && e.sender === sender && typeof e.content.body === "string" && match.test(e.content.body),
      { after, what: `a notice matching ${match}` },
    );
  }

  async waitUntil<T>(check: () => Promise<T | undefined | null | false>, what: string, timeoutMs = 20_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const value = await check();
      if (value) return value;
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    throw new Error(`timed out waiting for ${what}`);
  }
}
