import { encodeWav } from "../../media/audio/wav.js";
import type { Carrier } from "./twilio/carrier.js";
import { SimulatorError } from "./twilio/errors.js";
import type { CallRecord, RecordingRecord } from "./twilio/voice/records.js";
import { callDuration } from "./twilio/voice/resources.js";
import { createNumber } from "./twilio/numbers.js";
import { incomingPhoneNumberResource } from "./twilio/resources.js";
import type { MessageRecord } from "./twilio/state.js";
import { sendSignedWebhook, signTwilioRequest } from "./twilio/webhooks.js";
import type {
  CallFilter,
  FaultControl,
  MessageFilter,
  SimCallRecord,
  SimMessage,
  SimRecording,
  TwilioControl,
} from "./types.js";

/** A copy of a message record that callers may keep and change without touching the simulator. */
export function toSimMessage(record: MessageRecord): SimMessage {
  return {
    sid: record.sid,
    accountSid: record.accountSid,
    direction: record.direction,
    from: record.from,
    to: record.to,
    body: record.body,
    status: record.status,
    errorCode: record.errorCode,
    errorMessage: record.errorMessage,
    numSegments: record.numSegments,
    mediaUrls: [...record.mediaUrls],
    media: record.media.map(({ sid, contentType, data }) => ({ sid, contentType, data })),
    statusCallback: record.statusCallback,
    dateCreated: record.dateCreated,
    dateSent: record.dateSent,
    history: record.history.map((step) => ({ ...step })),
    ...(record.webhook ? { webhook: { ...record.webhook } } : {}),
  };
}

/** A copy of a call record. */
export function toSimCallRecord(record: CallRecord): SimCallRecord {
  return {
    sid: record.sid,
    accountSid: record.accountSid,
    parentCallSid: record.parentCallSid,
    direction: record.direction,
    from: record.from,
    to: record.to,
    status: record.status,
    dateCreated: record.dateCreated,
    startTime: record.startTime,
    answeredAt: record.answeredAt,
    endTime: record.endTime,
    duration: callDuration(record),
    url: record.url,
    statusCallback: record.statusCallback,
    statusCallbackEvents: [...record.statusCallbackEvents],
    history: record.history.map((step) => ({ ...step, ...(step.callback ? { callback: { ...step.callback } } : {}) })),
    log: record.log.map((entry) => ({ ...entry })),
    recordingSids: [...record.recordingSids],
  };
}

export function toSimRecording(recording: RecordingRecord): SimRecording {
  return {
    sid: recording.sid,
    accountSid: recording.accountSid,
    callSid: recording.callSid,
    duration: recording.duration,
    dateCreated: recording.dateCreated,
    samples: recording.samples.slice(),
    wav: encodeWav(recording.samples, 8000),
  };
}

export function matchesCallFilter(record: CallRecord, filter: CallFilter): boolean {
  return (
    (filter.to === undefined || record.to === filter.to) &&
    (filter.from === undefined || record.from === filter.from) &&
    (filter.accountSid === undefined || record.accountSid === filter.accountSid) &&
    (filter.parentCallSid === undefined || record.parentCallSid === filter.parentCallSid)
  );
}

export function matchesFilter(record: MessageRecord, filter: MessageFilter): boolean {
  return (
    (filter.to === undefined || record.to === filter.to) &&
    (filter.from === undefined || record.from === filter.from) &&
    (filter.accountSid === undefined || record.accountSid === filter.accountSid)
  );
}

export function twilioControl(carrier: Carrier): TwilioControl {
  const { state } = carrier;
  return {
    createAccount(options = {}) {
      const account = state.addAccount(options);
      return { sid: account.sid, authToken: account.authToken };
    },
    addNumber(accountSid, phoneNumber, options) {
      return incomingPhoneNumberResource(createNumber(state, accountSid, phoneNumber, options));
    },
    getNumber(phoneNumber) {
      const number = state.numberByPhone(phoneNumber);
      return number ? incomingPhoneNumberResource(number) : undefined;
    },
    messages(filter = {}) {
      return [...state.messages.values()].filter((m) => matchesFilter(m, filter)).map(toSimMessage);
    },
    setBalance(accountSid, balance) {
      const account = state.account(accountSid);
      account.balance = balance;
      account.dateUpdated = state.now();
    },
    postSignedWebhook(url, params, authToken, options = {}) {
      return sendSignedWebhook({ url, params, authToken, method: options.method ?? "POST", now: () => state.now() });
    },
    sign: signTwilioRequest,
    calls(filter = {}) {
      return [...state.calls.values()].filter((c) => matchesCallFilter(c, filter)).map(toSimCallRecord);
    },
    call(sid) {
      const record = state.calls.get(sid);
      return record ? toSimCallRecord(record) : undefined;
    },
    recordings(filter = {}) {
      return [...state.recordings.values()]
        .filter((r) => filter.callSid === undefined || r.callSid === filter.callSid)
        .filter((r) => filter.accountSid === undefined || r.accountSid === filter.accountSid)
        .map(toSimRecording);
    },
  };
}

export function faultControl(carrier: Carrier): FaultControl {
  const { faults } = carrier;
  return {
    failRest: (fault) => faults.failRest(fault),
    failMessagesTo: (number, fault) => faults.failMessagesTo(number, fault),
    hangMessagesTo: (number) => faults.hold(number),
    holdResponsesTo: (number) => faults.holdResponses(number),
    failCallsTo: (number, fault) => {
      if (!["busy", "no-answer", "failed"].includes(fault.outcome)) {
        throw new SimulatorError("sim-invalid-input", `unknown call fault ${JSON.stringify(fault.outcome)}`);
      }
      faults.failCallsTo(number, fault);
    },
    delayAnswerTo: (number, ms, options = {}) => faults.delayAnswerTo(number, ms, options.times ?? 1),
    setRestLatency: (ms) => {
      faults.latencyMs = Math.max(0, ms);
    },
    clear: () => faults.clear(),
  };
}
