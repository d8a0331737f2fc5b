/**
 * A minimal homeserver for the bridge: just the client-server API calls the bridge makes, as its
 * appservice (Bearer as_token, `?user_id=` masquerading), and the homeserver → appservice side
 * (transactions of events, one in flight at a time, at most 100 events each, as Synapse sends
 * them). Every event the bridge's users create in a room the appservice is interested in comes
 * back to the bridge in a transaction, as with a real homeserver, so the bridge pays for its echo.
 *
 * It keeps rooms in memory (state, members, nothing else) and records when each message send
 * arrives, for latency. Routes it doesn't know are answered 404 M_UNRECOGNIZED and counted.
 */
import { randomBytes } from "node:crypto";
import { createServer, request as httpRequest, Agent, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { performance } from "node:perf_hooks";

export interface StubOptions {
  domain: string;
  asToken: string;
  hsToken: string;
  /** The appservice's URL (the registration's `url`). */
  asUrl: string;
  /** The registration's `sender_localpart`. */
  senderLocalpart: string;
  /** The registration's exclusive user namespaces (regexes). */
  userNamespaces: string[];
  /** Called for problems worth showing (unknown routes, failed transactions). */
  warn?: (message: string) => void;
}

export interface StubEvent {
  event_id: string;
  room_id: string;
  sender: string;
  type: string;
  state_key?: string;
  content: Record<string, unknown>;
  origin_server_ts: number;
  unsigned: Record<string, unknown>;
}

interface Room {
  id: string;
  creator: string;
  state: Map<string, StubEvent>;
  members: Map<string, string>;
}

/** A message the bridge sent, with when its request arrived (performance.now()). */
export type SendListener = (event: StubEvent, arrivedAt: number) => void;
/** A transaction the appservice acknowledged: how many events, how long it took (ms). */
export type TransactionListener = (events: number, ms: number) => void;
export type ReceiptListener = (roomId: string, eventId: string, user: string) => void;

class MatrixHttpError extends Error {
  constructor(
    readonly status: number,
    readonly errcode: string,
    message: string,
  ) {
    super(message);
  }
}

const MAX_EVENTS_PER_TRANSACTION = 100;

export class StubHomeserver {
  readonly botUserId: string;
  url = "";
  /** Client API calls by route template, for the report of what the bridge really calls. */
  readonly routeCounts = new Map<string, number>();
  readonly unknownRoutes = new Map<string, number>();
  transactionsSent = 0;
  eventsPushed = 0;

  private server: Server | undefined;
  private readonly rooms = new Map<string, Room>();
  private readonly users = new Set<string>();
  private readonly profiles = new Map<string, { displayname?: string; avatar_url?: string }>();
  private readonly txnEvents = new Map<string, string>();
  private readonly namespaces: RegExp[];
  private readonly sendListeners = new Set<SendListener>();
  private readonly receiptListeners = new Set<ReceiptListener>();
  private readonly transactionListeners = new Set<TransactionListener>();
  private readonly queue: StubEvent[] = [];
  private pushing = false;
  private closed = false;
  private txnCounter = 0;
  private eventCounter = 0;
  private readonly eventPrefix = randomBytes(4).toString("hex");
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 4 });

  constructor(private readonly options: StubOptions) {
    this.botUserId = `@${options.senderLocalpart}:${options.domain}`;
    this.namespaces = options.userNamespaces.map((r) => new RegExp(`^${r}$`));
    this.users.add(this.botUserId);
  }

  async listen(port = 0): Promise<string> {
    const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => void this.handle(req, res));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve());
    });
    const address = server.address();
    if (!address || typeof address === "string") throw new Error("stub homeserver has no TCP address");
    this.url = `http://127.0.0.1:${address.port}`;
    return this.url;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.agent.destroy();
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  onSend(listener: SendListener): () => void {
    this.sendListeners.add(listener);
    return () => this.sendListeners.delete(listener);
  }

  onTransaction(listener: TransactionListener): () => void {
    this.transactionListeners.add(listener);
    return () => this.transactionListeners.delete(listener);
  }

  onReceipt(listener: ReceiptListener): () => void {
    this.receiptListeners.add(listener);
    return () => this.receiptListeners.delete(listener);
  }

  // -------------------------------------------------------------------------------------------
  // Acting as the homeserver's own users (people), whose events go to the appservice
  // -------------------------------------------------------------------------------------------

  /** Registers a person (outside the appservice's namespace). */
  addUser(userId: string, displayname?: string): void {
    this.users.add(userId);
    if (displayname) this.profiles.set(userId, { displayname });
  }

  /** A person creates a room (room version 10, private chat), inviting `invite`. */
  createRoomAs(creator: string, options: { name?: string; invite?: string[]; powerUsers?: Record<string, number> } = {}): string {
    return this.createRoom(creator, {
      name: options.name,
      invite: options.invite ?? [],
      powerUsers: options.powerUsers ?? {},
      initialState: [],
    });
  }

  /** A person sends a message; it reaches the appservice in the next transaction. */
  sendAs(sender: string, roomId: string, content: Record<string, unknown>, type = "m.room.message"): StubEvent {
    const room = this.room(roomId);
    return this.emit(room, { sender, type, content });
  }

  joinAs(user: string, roomId: string): void {
    this.setMembership(this.room(roomId), user, user, "join");
  }

  membersOf(roomId: string): Map<string, string> {
    return new Map(this.room(roomId).members);
  }

  roomIds(): string[] {
    return [...this.rooms.keys()];
  }

  creatorOf(roomId: string): string {
    return this.room(roomId).creator;
  }

  /** Events waiting for the next transaction. */
  get backlog(): number {
    return this.queue.length;
  }

  // -------------------------------------------------------------------------------------------
  // Rooms and events
  // -------------------------------------------------------------------------------------------

  private room(roomId: string): Room {
    const room = this.rooms.get(roomId);
    if (!room) throw new MatrixHttpError(404, "M_NOT_FOUND", `unknown room ${roomId}`);
    return room;
  }

  private newEventId(): string {
    return `$${this.eventPrefix}${(++this.eventCounter).toString(36)}`;
  }

  private createRoom(
    creator: string,
    options: {
      name?: string | undefined;
      topic?: string | undefined;
      invite: string[];
      powerUsers: Record<string, number>;
      initialState: { type: string; state_key: string; content: Record<string, unknown> }[];
      isDirect?: boolean;
    },
  ): string {
    const roomId = `!${randomBytes(9).toString("base64url")}:${this.options.domain}`;
    const room: Room = { id: roomId, creator, state: new Map(), members: new Map() };
    this.rooms.set(roomId, room);
    this.emit(room, { sender: creator, type: "m.room.create", stateKey: "", content: { room_version: "10", creator } });
    this.setMembership(room, creator, creator, "join");
    this.emit(room, {
      sender: creator,
      type: "m.room.power_levels",
      stateKey: "",
      content: {
        users: { [creator]: 100, ...options.powerUsers },
        users_default: 0,
        events: { "m.room.name": 50, "m.room.power_levels": 100 },
        events_default: 0,
        state_default: 50,
        ban: 50,
        kick: 50,
        redact: 50,
        invite: 0,
      },
    });
    this.emit(room, { sender: creator, type: "m.room.join_rules", stateKey: "", content: { join_rule: "invite" } });
    this.emit(room, { sender: creator, type: "m.room.history_visibility", stateKey: "", content: { history_visibility: "shared" } });
    if (options.name) this.emit(room, { sender: creator, type: "m.room.name", stateKey: "", content: { name: options.name } });
    if (options.topic) this.emit(room, { sender: creator, type: "m.room.topic", stateKey: "", content: { topic: options.topic } });
    for (const s of options.initialState) this.emit(room, { sender: creator, type: s.type, stateKey: s.state_key, content: s.content });
    for (const invitee of options.invite) this.setMembership(room, creator, invitee, "invite", options.isDirect ? { is_direct: true } : {});
    return roomId;
  }

  private setMembership(room: Room, sender: string, target: string, membership: string, extra: Record<string, unknown> = {}, reason?: string): StubEvent {
    const previous = room.state.get(`m.room.member\u0000${target}`)?.content ?? {};
    const profile = this.profiles.get(target) ?? {};
    const content: Record<string, unknown> = {
      ...(membership === "join" ? { displayname: profile.displayname ?? previous.displayname, avatar_url: profile.avatar_url } : {}),
      ...extra,
      membership,
      ...(reason ? { reason } : {}),
    };
    for (const key of Object.keys(content)) if (content[key] === undefined) delete content[key];
    const unsigned: Record<string, unknown> = {};
    if (membership === "invite") {
      // What clients (and the bridge) see of the room before joining it.
      unsigned.invite_room_state = ["m.room.create", "m.room.join_rules", "m.room.name", "m.room.encryption"]
        .map((type) => room.state.get(`${type}\u0000`))
        .filter((e): e is StubEvent => e !== undefined)
        .map((e) => ({ type: e.type, state_key: e.state_key, sender: e.sender, content: e.content }));
    }
    room.members.set(target, membership);
    return this.emit(room, { sender, type: "m.room.member", stateKey: target, content, unsigned });
  }

  private emit(
    room: Room,
    input: { sender: string; type: string; stateKey?: string; content: Record<string, unknown>; unsigned?: Record<string, unknown> },
  ): StubEvent {
    const event: StubEvent = {
      event_id: this.newEventId(),
      room_id: room.id,
      sender: input.sender,
      type: input.type,
      ...(input.stateKey !== undefined ? { state_key: input.stateKey } : {}),
      content: input.content,
      origin_server_ts: Date.now(),
      unsigned: input.unsigned ?? {},
    };
    if (input.stateKey !== undefined) room.state.set(`${input.type}\u0000${input.stateKey}`, event);
    if (this.interested(room, event)) this.push(event);
    return event;
  }

  private inNamespace(userId: string | undefined): boolean {
    if (!userId) return false;
    return userId === this.botUserId || this.namespaces.some((r) => r.test(userId));
  }

  /** Synapse's rule: the sender or state key is ours, or one of our users is joined to the room. */
  private interested(room: Room, event: StubEvent): boolean {
    if (this.inNamespace(event.sender) || this.inNamespace(event.state_key)) return true;
    for (const [user, membership] of room.members) if (membership === "join" && this.inNamespace(user)) return true;
    return false;
  }

  // -------------------------------------------------------------------------------------------
  // Homeserver → appservice transactions
  // -------------------------------------------------------------------------------------------

  private push(event: StubEvent): void {
    this.queue.push(event);
    if (!this.pushing) void this.pushLoop();
  }

  private async pushLoop(): Promise<void> {
    this.pushing = true;
    let failures = 0;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const batch = this.queue.slice(0, MAX_EVENTS_PER_TRANSACTION);
        const txnId = `${Date.now()}.${++this.txnCounter}`;
        const started = performance.now();
        const status = await this.putTransaction(txnId, batch).catch((err: unknown) => {
          this.options.warn?.(`transaction ${txnId} failed: ${String(err)}`);
          return 0;
        });
        if (status === 200) {
          this.queue.splice(0, batch.length);
          this.transactionsSent++;
          this.eventsPushed += batch.length;
          failures = 0;
          const ms = performance.now() - started;
          for (const listener of this.transactionListeners) listener(batch.length, ms);
        } else {
          failures++;
          if (status !== 0) this.options.warn?.(`transaction ${txnId} answered ${status}`);
          await new Promise((resolve) => setTimeout(resolve, Math.min(2_000, 50 * 2 ** failures)));
        }
      }
    } finally {
      this.pushing = false;
    }
  }

  private putTransaction(txnId: string, events: StubEvent[]): Promise<number> {
    const body = JSON.stringify({ events, ephemeral: [] });
    const url = new URL(`/_matrix/app/v1/transactions/${encodeURIComponent(txnId)}`, this.options.asUrl);
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        url,
        {
          method: "PUT",
          agent: this.agent,
          headers: {
            authorization: `Bearer ${this.options.hsToken}`,
            "content-type": "application/json",
            "content-length": Buffer.byteLength(body),
          },
        },
        (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  }

  /** The homeserver pings the appservice (MSC2659), as Synapse does when asked to. */
  private pingAppservice(transactionId: unknown): Promise<number> {
    const body = JSON.stringify(typeof transactionId === "string" ? { transaction_id: transactionId } : {});
    const url = new URL("/_matrix/app/v1/ping", this.options.asUrl);
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        url,
        {
          method: "POST",
          agent: this.agent,
          headers: { authorization: `Bearer ${this.options.hsToken}`, "content-type": "application/json", "content-length": Buffer.byteLength(body) },
        },
        (res) => {
          res.resume();
          res.on("end", () => (res.statusCode === 200 ? resolve(Math.round(performance.now() - started)) : reject(new Error(`ping answered ${res.statusCode}`))));
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  }

  // -------------------------------------------------------------------------------------------
  // Client-server API
  // -------------------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const arrivedAt = performance.now();
    const url = new URL(req.url ?? "/", "http://stub");
    const method = req.method ?? "GET";
    const route = routeTemplate(url.pathname);
    let status = 200;
    try {
      const raw = await readBody(req);
      const body = raw.length ? (JSON.parse(raw.toString("utf8")) as Record<string, unknown>) : {};
      const { result } = await this.dispatch(method, url, req, body, arrivedAt);
      send(res, 200, result);
    } catch (err) {
      status = err instanceof MatrixHttpError ? err.status : 500;
      if (err instanceof MatrixHttpError) {
        if (err.errcode === "M_UNRECOGNIZED") {
          const key = `${method} ${url.pathname}`;
          this.unknownRoutes.set(key, (this.unknownRoutes.get(key) ?? 0) + 1);
          this.options.warn?.(`stub homeserver: unknown route ${key}`);
        }
        send(res, err.status, { errcode: err.errcode, error: err.message });
      } else {
        this.options.warn?.(`stub homeserver: ${method} ${url.pathname} failed: ${String(err)}`);
        send(res, 500, { errcode: "M_UNKNOWN", error: String(err) });
      }
    } finally {
      const key = `${method} ${route}${status === 200 ? "" : ` → ${status}`}`;
      this.routeCounts.set(key, (this.routeCounts.get(key) ?? 0) + 1);
    }
  }

  private authenticate(req: IncomingMessage, url: URL): string {
    const header = req.headers.authorization;
    const token = header?.startsWith("Bearer ") ? header.slice(7) : url.searchParams.get("access_token");
    if (!token) throw new MatrixHttpError(401, "M_MISSING_TOKEN", "missing access token");
    if (token !== this.options.asToken) throw new MatrixHttpError(401, "M_UNKNOWN_TOKEN", "unknown access token");
    const masquerade = url.searchParams.get("user_id");
    if (!masquerade) return this.botUserId;
    if (!this.inNamespace(masquerade)) throw new MatrixHttpError(403, "M_EXCLUSIVE", `${masquerade} is not in the appservice's namespace`);
    return masquerade;
  }

  private async dispatch(
    method: string,
    url: URL,
    req: IncomingMessage,
    body: Record<string, unknown>,
    arrivedAt: number,
  ): Promise<{ route: string; result: unknown }> {
    const path = url.pathname;
    if (method === "GET" && path === "/_matrix/client/versions") {
      return { route: "/versions", result: { versions: ["r0.6.1", "v1.1", "v1.2", "v1.3", "v1.4", "v1.5", "v1.6", "v1.7", "v1.8", "v1.9", "v1.10", "v1.11", "v1.12"], unstable_features: {} } };
    }
    const user = this.authenticate(req, url);
    const appservicePing = /^\/_matrix\/client\/v1\/appservice\/([^/]+)\/ping$/.exec(path);
    if (appservicePing && method === "POST") {
      const duration = await this.pingAppservice(body.transaction_id).catch((err: unknown) => {
        throw new MatrixHttpError(502, "M_CONNECTION_FAILED", String(err));
      });
      return { route: "/appservice/{id}/ping", result: { duration_ms: duration } };
    }
    const match = /^\/_matrix\/client\/(?:v3|r0)(\/.*)$/.exec(path);
    if (!match) throw new MatrixHttpError(404, "M_UNRECOGNIZED", "unknown endpoint");
    const rest = match[1]!;
    const parts = rest.split("/").slice(1).map(decodeURIComponent);
    const [first, second, third, fourth, fifth] = parts;

    if (first === "account" && second === "whoami" && method === "GET") {
      return { route: "/account/whoami", result: { user_id: user, is_guest: false } };
    }
    if (first === "register" && method === "POST" && parts.length === 1) {
      if (body.type !== "m.login.application_service") throw new MatrixHttpError(401, "M_FORBIDDEN", "appservices register with m.login.application_service");
      const userId = `@${String(body.username)}:${this.options.domain}`;
      if (!this.inNamespace(userId)) throw new MatrixHttpError(400, "M_EXCLUSIVE", "not in the namespace");
      // The appservice's sender exists from the start, as on Synapse.
      if (this.users.has(userId)) throw new MatrixHttpError(400, "M_USER_IN_USE", "User ID already taken.");
      this.users.add(userId);
      return { route: "/register", result: { user_id: userId, home_server: this.options.domain } };
    }
    if (first === "profile" && second) {
      const target = second;
      if (method === "GET" && !third) {
        const profile = this.profiles.get(target);
        if (!profile) throw new MatrixHttpError(404, "M_NOT_FOUND", "Profile was not found");
        return { route: "/profile/{userId}", result: profile };
      }
      if (third === "displayname" || third === "avatar_url") {
        if (method === "GET") {
          const value = this.profiles.get(target)?.[third];
          if (value === undefined) throw new MatrixHttpError(404, "M_NOT_FOUND", "Profile was not found");
          return { route: `/profile/{userId}/${third}`, result: { [third]: value } };
        }
        if (method === "PUT") {
          if (target !== user) throw new MatrixHttpError(403, "M_FORBIDDEN", "Cannot set another user's profile");
          this.profiles.set(target, { ...this.profiles.get(target), [third]: body[third] as string });
          return { route: `/profile/{userId}/${third}`, result: {} };
        }
      }
    }
    if (first === "createRoom" && method === "POST") {
      const override = (body.power_level_content_override ?? {}) as { users?: Record<string, number> };
      const roomId = this.createRoom(user, {
        name: typeof body.name === "string" ? body.name : undefined,
        topic: typeof body.topic === "string" ? body.topic : undefined,
        invite: Array.isArray(body.invite) ? (body.invite as string[]) : [],
        powerUsers: override.users ?? {},
        initialState: Array.isArray(body.initial_state) ? (body.initial_state as { type: string; state_key: string; content: Record<string, unknown> }[]) : [],
        isDirect: body.is_direct === true,
      });
      return { route: "/createRoom", result: { room_id: roomId } };
    }
    if (first === "join" && second && method === "POST") {
      const room = this.room(second);
      this.requireMayJoin(room, user);
      this.setMembership(room, user, user, "join");
      return { route: "/join/{roomIdOrAlias}", result: { room_id: room.id } };
    }
    if (first === "rooms" && second) {
      const room = this.room(second);
      const membership = room.members.get(user);
      const joined = membership === "join";
      switch (third) {
        case "send": {
          if (method !== "PUT" || !fourth || !fifth) break;
          if (!joined) throw new MatrixHttpError(403, "M_FORBIDDEN", `User ${user} not in room ${room.id}`);
          const key = `${user}\u0000${fifth}`;
          let eventId = this.txnEvents.get(key);
          let event: StubEvent | undefined;
          if (!eventId) {
            event = this.emit(room, { sender: user, type: fourth, content: body });
            eventId = event.event_id;
            this.txnEvents.set(key, eventId);
          }
          if (event) for (const listener of this.sendListeners) listener(event, arrivedAt);
          return { route: "/rooms/{roomId}/send/{type}/{txnId}", result: { event_id: eventId } };
        }
        case "state": {
          if (!fourth) {
            if (method !== "GET") break;
            this.requireVisible(room, user);
            return { route: "/rooms/{roomId}/state", result: [...room.state.values()] };
          }
          const stateKey = fifth ?? "";
          if (method === "GET") {
            this.requireVisible(room, user);
            const event = room.state.get(`${fourth}\u0000${stateKey}`);
            if (!event) throw new MatrixHttpError(404, "M_NOT_FOUND", "Event not found.");
            return { route: "/rooms/{roomId}/state/{type}/{stateKey}", result: event.content };
          }
          if (method === "PUT") {
            if (!joined) throw new MatrixHttpError(403, "M_FORBIDDEN", `User ${user} not in room ${room.id}`);
            if (fourth === "m.room.member") {
              const event = this.setMembership(room, user, stateKey, String(body.membership ?? "join"), body);
              return { route: "/rooms/{roomId}/state/{type}/{stateKey}", result: { event_id: event.event_id } };
            }
            const event = this.emit(room, { sender: user, type: fourth, stateKey, content: body });
            return { route: "/rooms/{roomId}/state/{type}/{stateKey}", result: { event_id: event.event_id } };
          }
          break;
        }
        case "members": {
          if (method !== "GET") break;
          this.requireVisible(room, user);
          const chunk = [...room.members.keys()].map((target) => room.state.get(`m.room.member\u0000${target}`)).filter(Boolean);
          return { route: "/rooms/{roomId}/members", result: { chunk } };
        }
        case "joined_members": {
          if (method !== "GET") break;
          this.requireVisible(room, user);
          const joinedMembers = Object.fromEntries([...room.members].filter(([, m]) => m === "join").map(([u]) => [u, {}]));
          return { route: "/rooms/{roomId}/joined_members", result: { joined: joinedMembers } };
        }
        case "invite": {
          if (method !== "POST") break;
          if (!joined) throw new MatrixHttpError(403, "M_FORBIDDEN", `User ${user} not in room ${room.id}`);
          const target = String(body.user_id);
          const current = room.members.get(target);
          if (current === "join") throw new MatrixHttpError(403, "M_FORBIDDEN", `${target} is already in the room.`);
          if (current === "invite") throw new MatrixHttpError(403, "M_FORBIDDEN", `${target} is already invited.`);
          this.setMembership(room, user, target, "invite");
          return { route: "/rooms/{roomId}/invite", result: {} };
        }
        case "join": {
          if (method !== "POST") break;
          this.requireMayJoin(room, user);
          this.setMembership(room, user, user, "join");
          return { route: "/rooms/{roomId}/join", result: { room_id: room.id } };
        }
        case "leave": {
          if (method !== "POST") break;
          this.setMembership(room, user, user, "leave", {}, typeof body.reason === "string" ? body.reason : undefined);
          return { route: "/rooms/{roomId}/leave", result: {} };
        }
        case "kick": {
          if (method !== "POST") break;
          if (!joined) throw new MatrixHttpError(403, "M_FORBIDDEN", `User ${user} not in room ${room.id}`);
          this.setMembership(room, user, String(body.user_id), "leave", {}, typeof body.reason === "string" ? body.reason : undefined);
          return { route: "/rooms/{roomId}/kick", result: {} };
        }
        case "redact": {
          if (method !== "PUT" || !fourth) break;
          if (!joined) throw new MatrixHttpError(403, "M_FORBIDDEN", `User ${user} not in room ${room.id}`);
          const event = this.emit(room, { sender: user, type: "m.room.redaction", content: { redacts: fourth, ...body } });
          return { route: "/rooms/{roomId}/redact/{eventId}/{txnId}", result: { event_id: event.event_id } };
        }
        case "receipt": {
          if (method !== "POST" || !fifth) break;
          if (!joined) throw new MatrixHttpError(403, "M_FORBIDDEN", `User ${user} not in room ${room.id}`);
          for (const listener of this.receiptListeners) listener(room.id, fifth, user);
          return { route: "/rooms/{roomId}/receipt/{type}/{eventId}", result: {} };
        }
        case "read_markers": {
          if (method !== "POST") break;
          return { route: "/rooms/{roomId}/read_markers", result: {} };
        }
        case "typing": {
          if (method !== "PUT") break;
          return { route: "/rooms/{roomId}/typing/{userId}", result: {} };
        }
      }
    }
    throw new MatrixHttpError(404, "M_UNRECOGNIZED", "Unrecognized request");
  }

  private requireVisible(room: Room, user: string): void {
    const membership = room.members.get(user);
    if (membership !== "join" && membership !== "invite" && membership !== "leave") {
      throw new MatrixHttpError(403, "M_FORBIDDEN", `User ${user} not in room ${room.id}, and room previews are disabled`);
    }
  }

  private requireMayJoin(room: Room, user: string): void {
    const membership = room.members.get(user);
    if (membership !== "invite" && membership !== "join") throw new MatrixHttpError(403, "M_FORBIDDEN", "You are not invited to this room.");
  }
}

/** A request path with its variable parts named: /rooms/{roomId}/send/{type}/{txnId}. */
function routeTemplate(pathname: string): string {
  const parts = pathname.replace(/^\/_matrix\/client\/(v1|v3|r0)/, "").split("/");
  const names: Record<string, string[]> = {
    rooms: ["{roomId}"],
    send: ["{type}", "{txnId}"],
    state: ["{type}", "{stateKey}"],
    profile: ["{userId}"],
    join: ["{roomIdOrAlias}"],
    redact: ["{eventId}", "{txnId}"],
    receipt: ["{type}", "{eventId}"],
    appservice: ["{id}"],
    typing: ["{userId}"],
  };
  const out: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    out.push(part);
    for (const name of names[part] ?? []) if (i + 1 < parts.length) out.push(name), i++;
  }
  return out.join("/");
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}
