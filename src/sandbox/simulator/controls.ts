import type { Carrier } from "./twilio/carrier.js";
import { createNumber } from "./twilio/numbers.js";
import { incomingPhoneNumberResource } from "./twilio/resources.js";
import type { MessageRecord } from "./twilio/state.js";
import { sendSignedWebhook, signTwilioRequest } from "./twilio/webhooks.js";
import type { FaultControl, MessageFilter, SimMessage, TwilioControl } from "./types.js";

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
  };
}

export function faultControl(carrier: Carrier): FaultControl {
  const { faults } = carrier;
  return {
    failRest: (fault) => faults.failRest(fault),
    failMessagesTo: (number, fault) => faults.failMessagesTo(number, fault),
    hangMessagesTo: (number) => faults.hold(number),
    holdResponsesTo: (number) => faults.holdResponses(number),
    setRestLatency: (ms) => {
      faults.latencyMs = Math.max(0, ms);
    },
    clear: () => faults.clear(),
  };
}
