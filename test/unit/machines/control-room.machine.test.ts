import { describe, expect, it } from "vitest";
import { createActor, fromPromise, SimulatedClock } from "xstate";
import { e164, linkId, roomId } from "../../../src/ids.js";
import { bridgeMachine } from "../../../src/machines/bridge.machine.js";
import { controlRoomMachine, type ControlRoomEvent } from "../../../src/machines/control-room.machine.js";
import { linkMachine, type ConnectInput, type ConnectOutput } from "../../../src/machines/link.machine.js";
import type { Notice } from "../../../src/machines/notices.js";
import { Secret } from "../../../src/secret.js";
import { connected, fail, linkFakes, linkInput, settle } from "../../helpers/link-fakes.js";

const ROOM = roomId("!control:localhost");

function linkCommand(id = "lnk0000000000000001", number = "+15550001111"): ControlRoomEvent {
  return {
    type: "command.link",
    linkId: linkId(id),
    provider: "twilio",
    accountRef: "AC00000000000000000000000000000001",
    number: e164(number),
    credentials: new Secret({ authToken: "t0ps3cret-t0ps3cret" }),
  };
}

function startRoom(fakes: ReturnType<typeof linkFakes>, input: Partial<Parameters<typeof createActor<typeof controlRoomMachine>>[1] & object> = {}) {
  const roomNotices: Notice[] = [];
  const failures: string[] = [];
  const statuses: boolean[] = [];
  const { report: _report, ...linkActions } = fakes.implementations.actions;
  const machine = controlRoomMachine.provide({
    actors: { link: linkMachine.provide({ actors: fakes.implementations.actors, actions: { ...linkActions, notify: (_, n) => void roomNotices.push(n) } }) },
    actions: {
      notify: (_, n) => void roomNotices.push(n),
      childFailed: (_, p) => void failures.push(p.actorId),
      persistStatus: (_, p) => void statuses.push(p.paused),
    },
  });
  const clock = new SimulatedClock();
  const actor = createActor(machine, { clock, input: { roomId: ROOM, paused: false, ...input } as never });
  const errors: unknown[] = [];
  actor.subscribe({ error: (e) => errors.push(e) });
  actor.start();
  return { actor, roomNotices, failures, statuses, errors, clock };
}

describe("control room machine", () => {
  it("spawns a link on `link`, tracks its state and routes status to it", async () => {
    const fakes = linkFakes();
    fakes.script.connect.push(connected());
    fakes.script.probe.push({ balance: { amount: "3.00", currency: "USD" }, repaired: false });
    const { actor, roomNotices, errors } = startRoom(fakes);
    actor.send(linkCommand());
    await settle();
    const snapshot = actor.getSnapshot();
    expect(snapshot.context.linkId).toBe("lnk0000000000000001");
    expect(snapshot.context.linkState).toBe("linked");
    expect(snapshot.children["lnk0000000000000001"]).toBeDefined();
    actor.send({ type: "command.status" });
    await settle();
    expect(roomNotices.map((n) => n.kind)).toEqual(["link.started", "link.linked", "link.status"]);
    expect(errors).toEqual([]);
  });

  it("refuses a second `link` while the number is linked: one number per room", async () => {
    const fakes = linkFakes();
    fakes.script.connect.push(connected());
    const { actor, roomNotices } = startRoom(fakes);
    actor.send(linkCommand());
    await settle();
    actor.send(linkCommand("lnk0000000000000002", "+15550002222"));
    await settle();
    expect(roomNotices.at(-1)).toMatchObject({ kind: "link.busy", number: "+15550001111", state: "linked" });
    expect(actor.getSnapshot().context.linkId).toBe("lnk0000000000000001");
    expect(fakes.calls.connect).toHaveLength(1);
  });

  it("replaces a link stuck in bad-credentials with a new attempt", async () => {
    const fakes = linkFakes();
    fakes.script.connect.push(fail("provider-credentials-rejected"), connected());
    const { actor } = startRoom(fakes);
    actor.send(linkCommand());
    await settle();
    expect(actor.getSnapshot().context.linkState).toBe("bad-credentials");
    actor.send(linkCommand("lnk0000000000000002"));
    await settle();
    const snapshot = actor.getSnapshot();
    expect(snapshot.context).toMatchObject({ linkId: "lnk0000000000000002", linkState: "linked" });
    expect(snapshot.children["lnk0000000000000001"]).toBeUndefined();
  });

  it("unlink and status without a link say there is none", async () => {
    const { actor, roomNotices } = startRoom(linkFakes());
    actor.send({ type: "command.unlink" });
    actor.send({ type: "command.status" });
    expect(roomNotices.map((n) => n.kind)).toEqual(["link.none", "link.none"]);
  });

  it("forgets the link once it is unlinked", async () => {
    const fakes = linkFakes();
    fakes.script.connect.push(connected());
    fakes.script.disconnect.push(undefined);
    const { actor } = startRoom(fakes);
    actor.send(linkCommand());
    await settle();
    actor.send({ type: "command.unlink" });
    await settle();
    expect(actor.getSnapshot().context).toMatchObject({ linkId: null, linkState: null });
    expect(Object.keys(actor.getSnapshot().children)).toEqual([]);
  });

  it("pauses the link when the bot is removed and resumes it when the bot is back", async () => {
    const fakes = linkFakes();
    fakes.script.connect.push(connected());
    fakes.script.probe.push({ balance: null, repaired: false });
    const { actor, statuses } = startRoom(fakes);
    actor.send(linkCommand());
    await settle();
    actor.send({ type: "bot.removed" });
    await settle();
    expect(actor.getSnapshot().value).toBe("paused");
    expect(actor.getSnapshot().context.linkState).toBe("paused");
    actor.send({ type: "bot.rejoined" });
    await settle();
    expect(actor.getSnapshot().value).toBe("active");
    expect(actor.getSnapshot().context.linkState).toBe("linked");
    expect(statuses).toEqual([true, false]);
  });

  it("survives its link actor crashing and tells the room", async () => {
    const fakes = linkFakes();
    const crashing = fromPromise<ConnectOutput, ConnectInput>(() => new Promise(() => {}));
    const { actor, roomNotices, failures, errors } = startRoom({
      ...fakes,
      implementations: {
        ...fakes.implementations,
        actions: {
          ...fakes.implementations.actions,
          // A persistence failure inside an entry action errors the link actor.
          persist: () => {
            throw new Error("disk full");
          },
        },
        actors: { ...fakes.implementations.actors, connect: crashing },
      },
    });
    actor.send(linkCommand());
    await settle();
    expect(actor.getSnapshot().status).toBe("active");
    expect(failures).toEqual(["lnk0000000000000001"]);
    expect(roomNotices.at(-1)).toMatchObject({ kind: "internal-error" });
    expect(actor.getSnapshot().context.linkId).toBeNull();
    expect(errors).toEqual([]);
  });

  it("comes back from the database with its link in the stored state", async () => {
    const fakes = linkFakes();
    const { actor } = startRoom(fakes, {
      link: linkInput({ restore: { state: "linked", stateCode: null, providerNumberId: "PN1", previousSettings: {} } }),
    } as never);
    await settle();
    expect(actor.getSnapshot().context.linkState).toBe("linked");
    expect(fakes.calls.connect).toHaveLength(0);
  });
});

describe("bridge machine", () => {
  it("routes events to existing rooms only, and reports the rest", async () => {
    const unroutable: string[] = [];
    const machine = bridgeMachine.provide({
      actions: { unroutable: (_, p) => void unroutable.push(p.roomId) },
      actors: { controlRoom: controlRoomMachine.provide({ actions: { notify: () => {} } }) },
    });
    const actor = createActor(machine, { input: { rooms: [] } });
    actor.subscribe({ error: () => {} });
    actor.start();
    actor.send({ type: "room.open", room: { roomId: ROOM, paused: false } });
    actor.send({ type: "room.event", roomId: ROOM, event: { type: "command.status" } });
    actor.send({ type: "room.event", roomId: roomId("!other:localhost"), event: { type: "command.status" } });
    expect(Object.keys(actor.getSnapshot().children)).toEqual([ROOM]);
    expect(unroutable).toEqual(["!other:localhost"]);
  });

  it("drops a failed room and asks the runtime to restore it, staying up itself", async () => {
    const failed: string[] = [];
    const machine = bridgeMachine.provide({
      actions: { roomFailed: (_, p) => void failed.push(p.roomId) },
      actors: {
        controlRoom: controlRoomMachine.provide({
          actions: {
            notify: () => {
              throw new Error("boom");
            },
          },
        }),
      },
    });
    const actor = createActor(machine, { input: { rooms: [{ roomId: ROOM, paused: false }] } });
    actor.start();
    actor.send({ type: "room.event", roomId: ROOM, event: { type: "command.status" } });
    expect(failed).toEqual([ROOM]);
    expect(actor.getSnapshot().status).toBe("active");
    expect(actor.getSnapshot().context.rooms).toEqual({});
    actor.send({ type: "room.open", room: { roomId: ROOM, paused: false } });
    expect(actor.getSnapshot().context.rooms).toEqual({ [ROOM]: true });
  });
});
