import { SimulatorError } from "./twilio/errors.js";
import { isAddress, type Carrier } from "./twilio/carrier.js";
import type { AnswerBehaviour, LiveCall, VoiceNetwork } from "./twilio/voice/network.js";
import type { CallStatus } from "./twilio/voice/records.js";
import type {
  Handset,
  HandsetMessage,
  MediaAttachment,
  PlaceCallOptions,
  SendSmsResult,
  SimCall,
} from "./types.js";

/** A phone outside Twilio: it texts and calls simulated Twilio numbers and takes their texts and calls. */
export class SimHandset implements Handset {
  readonly number: string;
  readonly #carrier: Carrier;

  constructor(number: string, carrier: Carrier) {
    if (!isAddress(number)) {
      throw new SimulatorError("sim-invalid-number", `not an E.164 number, short code or sender id: ${number}`);
    }
    this.number = number;
    this.#carrier = carrier;
  }

  sendSms(to: string, body: string, options: { media?: MediaAttachment[] } = {}): Promise<SendSmsResult> {
    return this.#carrier.receive(this.number, to, body, options.media ?? []);
  }

  inbox(): HandsetMessage[] {
    return this.#carrier.inbox(this.number);
  }

  waitForMessage(
    predicate: (message: HandsetMessage) => boolean = () => true,
    options: { timeoutMs?: number } = {},
  ): Promise<HandsetMessage> {
    const existing = this.inbox().find(predicate);
    if (existing) return Promise.resolve(existing);
    const timeoutMs = options.timeoutMs ?? 5000;
    const clock = this.#carrier.clock;
    return new Promise((resolve, reject) => {
      const settle = (finish: () => void): void => {
        unsubscribe();
        clock.clearTimeout(timer);
        finish();
      };
      const unsubscribe = this.#carrier.onHandsetMessage((message) => {
        if (message.to !== this.number) return;
        try {
          if (predicate(message)) settle(() => resolve(message));
        } catch (err) {
          settle(() => reject(err));
        }
      });
      const timer = clock.setTimeout(() => {
        const message = `${this.number} received no matching message in ${timeoutMs} ms`;
        settle(() => reject(new SimulatorError("sim-wait-timeout", message)));
      }, timeoutMs);
    });
  }

  call(to: string, options: PlaceCallOptions = {}): SimCall {
    return new SimCallHandle(this.#carrier.voice.placeFromHandset(this.number, to, options), this.#carrier.voice);
  }

  answerCalls(behaviour: AnswerBehaviour): void {
    this.#carrier.voice.line(this.number).behaviour = validBehaviour(behaviour);
  }

  calls(): SimCall[] {
    const voice = this.#carrier.voice;
    return voice.line(this.number).calls.map((call) => new SimCallHandle(call, voice));
  }

  waitForCall(
    predicate: (call: SimCall) => boolean = () => true,
    options: { timeoutMs?: number } = {},
  ): Promise<SimCall> {
    const voice = this.#carrier.voice;
    const line = voice.line(this.number);
    const matches = (call: LiveCall): SimCall | undefined => {
      if (call.party.role !== "callee") return undefined;
      const handle = new SimCallHandle(call, voice);
      return predicate(handle) ? handle : undefined;
    };
    for (const call of line.calls) {
      const found = matches(call);
      if (found) return Promise.resolve(found);
    }
    const timeoutMs = options.timeoutMs ?? 5000;
    return new Promise((resolve, reject) => {
      const settle = (finish: () => void): void => {
        line.listeners.delete(listener);
        cancel();
        finish();
      };
      const listener = (call: LiveCall): void => {
        try {
          const found = matches(call);
          if (found) settle(() => resolve(found));
        } catch (err) {
          settle(() => reject(err));
        }
      };
      line.listeners.add(listener);
      const cancel = voice.after(timeoutMs, () => {
        const message = `no matching call rang ${this.number} in ${timeoutMs} ms`;
        settle(() => reject(new SimulatorError("sim-wait-timeout", message)));
      });
    });
  }
}

function validBehaviour(behaviour: AnswerBehaviour): AnswerBehaviour {
  if (typeof behaviour === "string") {
    if (["manual", "busy", "no-answer", "fail", "reject"].includes(behaviour)) return behaviour;
    throw new SimulatorError("sim-invalid-input", `unknown answering mode ${JSON.stringify(behaviour)}`);
  }
  const { after, tone } = behaviour;
  if (after !== undefined && !(Number.isFinite(after) && after >= 0)) {
    throw new SimulatorError("sim-invalid-input", "answerCalls: `after` must be a number of milliseconds");
  }
  if (tone !== undefined && !(Number.isFinite(tone) && tone >= 0 && tone < 4000)) {
    throw new SimulatorError("sim-invalid-input", "answerCalls: `tone` must be 0..3999 Hz");
  }
  return { ...(after !== undefined ? { after } : {}), ...(tone !== undefined ? { tone } : {}) };
}

/** The handset's handle on one call; all state lives in the network's `LiveCall`. */
export class SimCallHandle implements SimCall {
  readonly #call: LiveCall;
  readonly #voice: VoiceNetwork;

  constructor(call: LiveCall, voice: VoiceNetwork) {
    this.#call = call;
    this.#voice = voice;
  }

  get sid(): string {
    return this.#call.record.sid;
  }

  get role(): "caller" | "callee" {
    return this.#call.party.role;
  }

  get direction(): SimCall["direction"] {
    return this.#call.record.direction;
  }

  get from(): string {
    return this.#call.record.from;
  }

  get to(): string {
    return this.#call.record.to;
  }

  get status(): CallStatus {
    return this.#call.record.status;
  }

  get log(): SimCall["log"] {
    return this.#call.record.log.map((entry) => ({ ...entry }));
  }

  get said(): string[] {
    return this.#call.record.log.flatMap((entry) => (entry.type === "say" ? [entry.text] : []));
  }

  waitForStatus(status: CallStatus | CallStatus[], options: { timeoutMs?: number } = {}): Promise<CallStatus> {
    const wanted = Array.isArray(status) ? status : [status];
    const call = this.#call;
    const reached = (): CallStatus | undefined => call.record.history.find((step) => wanted.includes(step.status))?.status;
    const now = reached();
    if (now) return Promise.resolve(now);
    const timeoutMs = options.timeoutMs ?? 5000;
    return new Promise((resolve, reject) => {
      const settle = (finish: () => void): void => {
        call.statusListeners.delete(listener);
        cancel();
        finish();
      };
      const listener = (): void => {
        const found = reached();
        if (found) settle(() => resolve(found));
      };
      call.statusListeners.add(listener);
      const cancel = this.#voice.after(timeoutMs, () => {
        const message = `call ${call.record.sid} did not reach ${wanted.join(" or ")} in ${timeoutMs} ms (it is ${call.record.status})`;
        settle(() => reject(new SimulatorError("sim-wait-timeout", message)));
      });
    });
  }

  answer(options: { tone?: number } = {}): void {
    this.#voice.answerRinging(this.#call, options.tone);
  }

  reject(): void {
    this.#voice.rejectRinging(this.#call);
  }

  hangup(): void {
    this.#voice.hangupByHandset(this.#call);
  }

  pressKeys(keys: string): Promise<void> {
    if (!/^[0-9*#A-Da-d]*$/.test(keys)) {
      return Promise.reject(new SimulatorError("sim-invalid-input", `not keypad keys: ${JSON.stringify(keys)}`));
    }
    if (this.#call.record.status !== "in-progress") {
      return Promise.reject(
        new SimulatorError("sim-invalid-input", `call ${this.sid} is ${this.#call.record.status}, not in progress`),
      );
    }
    return this.#call.party.pressKeys(keys.toUpperCase());
  }

  setTone(frequency: number): void {
    if (!(Number.isFinite(frequency) && frequency >= 0 && frequency < 4000)) {
      throw new SimulatorError("sim-invalid-input", "a tone is 0..3999 Hz");
    }
    this.#call.party.tone = frequency;
  }

  say(frequency: number): void {
    this.setTone(frequency);
  }

  heard(): Int16Array {
    return this.#call.party.earpiece.since(0);
  }

  get heardSamples(): number {
    return this.#call.party.earpiece.length;
  }

  heardSince(mark: number): Int16Array {
    return this.#call.party.earpiece.since(mark);
  }

  heardKeys(): string {
    return this.#call.party.earpiece.keys;
  }
}
