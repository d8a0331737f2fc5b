/**
 * Twilio's errors as the simulator puts them on the wire, and the simulator's own errors for
 * programmatic misuse.
 *
 * REST failures use Twilio's legacy JSON body, which twilio-node turns into a `RestException`
 * (it reads `message`, `code`, `more_info`, `details`; the HTTP status becomes `status`):
 * `{"code": 20003, "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401}`.
 */

/** The legacy error body every 2010-04-01 endpoint returns. */
export interface TwilioErrorBody {
  code: number;
  message: string;
  more_info: string;
  status: number;
}

export const moreInfoUrl = (code: number): string => `https://www.twilio.com/docs/errors/${code}`;

/** A REST request Twilio would refuse; the REST layer turns it into the legacy error body. */
export class TwilioApiError extends Error {
  readonly status: number;
  readonly code: number;

  constructor(status: number, code: number, message: string) {
    super(message);
    this.name = "TwilioApiError";
    this.status = status;
    this.code = code;
  }

  toBody(): TwilioErrorBody {
    return { code: this.code, message: this.message, more_info: moreInfoUrl(this.code), status: this.status };
  }
}

/**
 * The synchronous REST errors the simulator produces. Codes and wording are Twilio's own (error
 * dictionary at twilio.com/docs/api/errors); the message texts are those seen in real responses
 * where known, otherwise the dictionary title.
 */
export const restErrors = {
  authenticate: () => new TwilioApiError(401, 20003, "Authenticate"),
  notFound: (path: string) => new TwilioApiError(404, 20404, `The requested resource ${path} was not found`),
  tooManyRequests: () => new TwilioApiError(429, 20429, "Too Many Requests"),
  internal: () => new TwilioApiError(500, 20500, "Internal Server Error"),
  unavailable: () => new TwilioApiError(503, 20503, "Service Unavailable"),
  invalidUrl: (param: string) => new TwilioApiError(400, 21402, `${param} is not valid: Invalid Url`),
  invalidMethod: (param: string) => new TwilioApiError(400, 21403, `${param} is not valid: Invalid Method`),
  applicationNotAccessible: (param: string) =>
    new TwilioApiError(400, 21420, `${param} is not valid: ApplicationSid is not accessible`),
  invalidStatusCallback: () => new TwilioApiError(400, 21609, "Invalid 'StatusCallback'"),
  toRequired: () => new TwilioApiError(400, 21604, "A 'To' phone number is required."),
  fromRequired: () => new TwilioApiError(400, 21603, "A 'From' phone number is required."),
  invalidTo: (to: string) => new TwilioApiError(400, 21211, `The 'To' number ${to} is not a valid phone number.`),
  invalidFrom: (from: string) =>
    new TwilioApiError(
      400,
      21606,
      `The From phone number ${from} is not a valid, SMS-capable inbound phone number or short code for your account.`,
    ),
  bodyRequired: () => new TwilioApiError(400, 21602, "Message body is required."),
  bodyTooLong: () => new TwilioApiError(400, 21617, "The concatenated message body exceeds the 1600 character limit."),
  tooManyMedia: () => new TwilioApiError(400, 21623, "Number of media files exceeds allowed limit"),
  unsubscribed: () => new TwilioApiError(400, 21610, "Attempt to send to unsubscribed recipient"),
  // Calls. 21205 with this text is what api.twilio.com answers a create without Url/Twiml/
  // ApplicationSid (seen in twilio-node issue #275); the others are the error dictionary's.
  callToRequired: () => new TwilioApiError(400, 21201, "No 'To' number is specified"),
  callFromRequired: () => new TwilioApiError(400, 21213, "No 'From' number is specified"),
  callUrlRequired: () =>
    new TwilioApiError(400, 21205, "Url parameter is required. For more information, see http://www.twilio.com/docs/api/twiml"),
  callInvalidUrl: (param: string, url: string) => new TwilioApiError(400, 21205, `${param} is not a valid URL: ${url}`),
  callInvalidTo: (to: string) => new TwilioApiError(400, 21211, `Invalid 'To' Phone Number: ${to}`),
  callInvalidFrom: (from: string) => new TwilioApiError(400, 21212, `Invalid From Number (caller ID): ${from}`),
  callFromNotVerified: (from: string) =>
    new TwilioApiError(
      400,
      21210,
      `The source phone number provided, ${from}, is not yet verified for your account. You may only make calls from phone numbers that you've verified or purchased from Twilio.`,
    ),
  callInvalidTimeout: () => new TwilioApiError(400, 21208, "Invalid Timeout"),
  callInvalidMethod: (param: string) => new TwilioApiError(400, 21403, `${param} is not valid: Invalid Method`),
  callInvalidStatus: (status: string) => new TwilioApiError(400, 20001, `Invalid Status: ${status}`),
  callNotInProgress: () => new TwilioApiError(400, 21220, "Call is not in-progress. Cannot redirect."),
  callApplicationNotFound: (sid: string) =>
    new TwilioApiError(400, 21218, `ApplicationSid ${sid} is not accessible: the simulator has no applications`),
} as const;

/** The code a media fetch failure ends in: 63019 "Media failed to download". */
export const MEDIA_DOWNLOAD_FAILED = 63019;

/**
 * Texts for the asynchronous error codes a message can end with (`error_code` on the resource,
 * `ErrorCode` in status callbacks). Unknown codes get a generic text.
 */
const deliveryErrorTexts: Readonly<Record<number, string>> = {
  21610: "Attempt to send to unsubscribed recipient",
  30003: "Unreachable destination handset",
  30004: "Message blocked",
  30005: "Unknown destination handset",
  30006: "Landline or unreachable carrier",
  30007: "Message filtered",
  30008: "Unknown error",
  [MEDIA_DOWNLOAD_FAILED]: "Media failed to download",
};

export const deliveryErrorText = (code: number): string => deliveryErrorTexts[code] ?? "Unknown error";

/** Stable codes for mistakes made through the simulator's programmatic or control API. */
export type SimulatorErrorCode =
  | "sim-unknown-account"
  | "sim-account-exists"
  | "sim-number-taken"
  | "sim-invalid-number"
  | "sim-unknown-number"
  | "sim-invalid-input"
  | "sim-wait-timeout"
  | "sim-unknown-media"
  | "sim-unknown-call"
  | "sim-closed"
  | "sim-internal";

export class SimulatorError extends Error {
  readonly code: SimulatorErrorCode;

  constructor(code: SimulatorErrorCode, message: string) {
    super(message);
    this.name = "SimulatorError";
    this.code = code;
  }
}
