import { displayName, senderOf } from "../contacts.js";
import { formatNumber } from "../numbers.js";
import { BridgeError } from "../errors.js";
import type { ContactId, PortalId, RoomId, UserId } from "../ids.js";
import type { Logger } from "../log.js";
import type { Storage } from "../storage/index.js";
import type { PortalRecord } from "../storage/portals.js";
import type { InitialState, MatrixGateway, Membership } from "./gateway.js";
import type { Ghosts } from "./ghosts.js";

/** The bridge's name for itself in `m.bridge` state keys. */
const BRIDGE_NAME = "org.matrix-pstn-bridge";

/**
 * Portal rooms: one Matrix room per conversation. The contact's ghost creates each room and
 * invites the control room's members; the bot stays out, so a number used by one person gets a
 * two-member room, where Element offers calls. Every operation here may fail with
 * `matrix-unavailable`, which callers retry.
 */
export class PortalRooms {
  private readonly creating = new Map<PortalId, Promise<RoomId>>();
  /**
   * Portals whose members were checked against their control room since the last membership
   * change: checking costs two homeserver requests, so it is done again only when someone joins
   * or leaves either room.
   */
  private readonly membersChecked = new Set<PortalId>();

  constructor(
    private readonly matrix: MatrixGateway,
    private readonly storage: Storage,
    private readonly ghosts: Ghosts,
    private readonly log: Logger,
  ) {}

  ghostOf(portal: PortalRecord): UserId {
    return this.ghosts.userIdOf(portal.contact);
  }

  /** A contact as its control room calls it: the pet name given there, or its number. */
  nameOf(controlRoomId: RoomId, contact: ContactId): string {
    return displayName(contact, this.storage.contacts.get(controlRoomId, contact).petName);
  }

  /** The portal's room, created (once, even under concurrent callers) if it has none yet. */
  ensureRoom(portalId: PortalId): Promise<RoomId> {
    const portal = this.storage.portals.get(portalId);
    if (!portal) throw new BridgeError("internal", "no such portal", { context: { portalId } });
    if (portal.roomId) return Promise.resolve(portal.roomId);
    let pending = this.creating.get(portalId);
    if (!pending) {
      pending = this.create(portal).finally(() => this.creating.delete(portalId));
      this.creating.set(portalId, pending);
    }
    return pending;
  }

  private async create(portal: PortalRecord): Promise<RoomId> {
    const ghost = this.ghostOf(portal);
    const contact = this.storage.contacts.get(portal.controlRoomId, portal.contact);
    await this.matrix.ensureGhost(ghost, displayName(portal.contact));
    const members = await this.controlRoomMembers(portal.controlRoomId);
    const link = this.storage.links.byRoom(portal.controlRoomId);
    const name = displayName(portal.contact, contact.petName);
    const roomId = await this.matrix.createPortalRoom(ghost, {
      invite: members,
      name,
      topic: link ? `Texts with ${displayName(portal.contact)} through ${formatNumber(link.phoneNumber)}` : `Texts with ${name}`,
      initialState: this.bridgeState(portal, ghost),
    });
    this.storage.portals.setRoom(portal.id, roomId);
    if (contact.petName) await this.matrix.setRoomDisplayNameAs(ghost, roomId, contact.petName);
    this.log.info({ portalId: portal.id, roomId }, "portal room created");
    return roomId;
  }

  /**
   * Makes an existing room (a DM someone started with the ghost) the portal of a conversation:
   * records it, marks it as bridged, and brings in the control room's other members.
   */
  async adoptRoom(portal: PortalRecord, roomId: RoomId): Promise<void> {
    const ghost = this.ghostOf(portal);
    this.storage.portals.setRoom(portal.id, roomId);
    for (const state of this.bridgeState(portal, ghost)) await this.matrix.sendStateAs(ghost, roomId, state.type, state.stateKey, state.content);
    await this.inviteMissing({ ...portal, roomId }, roomId);
    const petName = this.storage.contacts.get(portal.controlRoomId, portal.contact).petName;
    if (petName) await this.matrix.setRoomDisplayNameAs(ghost, roomId, petName);
    this.log.info({ portalId: portal.id, roomId }, "a DM became a portal room");
  }

  /** `m.bridge` (and its unstable twin) so clients show where the room is bridged to (MSC2346). */
  private bridgeState(portal: PortalRecord, ghost: UserId): InitialState[] {
    const link = this.storage.links.byRoom(portal.controlRoomId);
    const sender = senderOf(portal.contact);
    const content = {
      bridgebot: this.matrix.botUserId,
      creator: ghost,
      protocol: { id: "pstn", displayname: "Phone" },
      ...(link ? { network: { id: link.provider, displayname: link.provider === "twilio" ? "Twilio" : link.provider } } : {}),
      channel: {
        id: portal.contact.toLowerCase(),
        displayname: displayName(portal.contact),
        ...(sender.kind === "number" ? { external_url: `tel:${sender.number}` } : {}),
      },
    };
    const stateKey = `${BRIDGE_NAME}://pstn/${link?.phoneNumber ?? "unlinked"}/${portal.contact}`;
    return [
      { type: "m.bridge", stateKey, content },
      { type: "uk.half-shot.bridge", stateKey, content },
    ];
  }

  /** The people in a control room (joined), without the bridge's own users. */
  async controlRoomMembers(controlRoomId: RoomId): Promise<UserId[]> {
    const members = await this.matrix.members(controlRoomId);
    return [...members.entries()].filter(([user, m]) => m === "join" && !this.matrix.isBridgeUser(user)).map(([user]) => user as UserId);
  }

  /**
   * Invites control-room members who are not in the portal (never joined, or left it): how someone
   * who left a portal learns that a new text arrived there.
   */
  async inviteMissing(portal: PortalRecord, roomId: RoomId): Promise<UserId[]> {
    if (this.membersChecked.has(portal.id)) return [];
    const ghost = this.ghostOf(portal);
    const [wanted, present] = await Promise.all([this.controlRoomMembers(portal.controlRoomId), this.matrix.members(roomId, ghost)]);
    const missing = wanted.filter((user) => !isIn(present.get(user)));
    for (const user of missing) await this.matrix.inviteAs(ghost, roomId, user);
    this.membersChecked.add(portal.id);
    return missing;
  }

  /** Someone left or joined a portal or its control room: check its members again next time. */
  membershipChanged(portalId: PortalId): void {
    this.membersChecked.delete(portalId);
  }

  /** Someone joined or left the control room: follow them into or out of every portal. */
  async followMembership(controlRoomId: RoomId, user: UserId, membership: Membership): Promise<void> {
    for (const portal of this.storage.portals.ofControlRoom(controlRoomId)) {
      this.membersChecked.delete(portal.id);
      if (!portal.roomId) continue;
      const ghost = this.ghostOf(portal);
      try {
        if (membership === "join") {
          await this.matrix.inviteAs(ghost, portal.roomId, user);
        } else if (membership === "leave" || membership === "ban") {
          const current = (await this.matrix.members(portal.roomId, ghost)).get(user);
          if (isIn(current)) await this.matrix.kickAs(ghost, portal.roomId, user, "left the control room");
        }
      } catch (err) {
        this.log.warn({ err, portalId: portal.id, membership }, "could not follow a control-room membership change into a portal");
      }
    }
  }

  /** Shows a contact's pet name (or, cleared, its number) in its portal: room name and the ghost's name there. */
  async applyName(portal: PortalRecord): Promise<void> {
    if (!portal.roomId) return;
    const ghost = this.ghostOf(portal);
    const name = this.nameOf(portal.controlRoomId, portal.contact);
    await this.matrix.setRoomDisplayNameAs(ghost, portal.roomId, name);
    await this.matrix.setRoomNameAs(ghost, portal.roomId, name);
  }
}

const isIn = (membership: Membership | undefined) => membership === "join" || membership === "invite";
