"use strict";
// Stand-in for @matrix-org/matrix-sdk-crypto-nodejs. The real package downloads a native binary
// from outside the npm registry at install time, which cannot work on an offline machine, and
// matrix-pstn-bridge does not support end-to-end encryption yet. matrix-bot-sdk only touches these
// names when encryption is switched on; anything that does gets a clear error instead of a crash
// deep inside a missing native module.
const MESSAGE =
  "End-to-end encryption is not available in matrix-pstn-bridge: the native crypto binding is replaced by a stand-in";

class E2eeUnavailableError extends Error {
  constructor() {
    super(MESSAGE);
    this.name = "E2eeUnavailableError";
    this.code = "e2ee-unavailable";
  }
}

function unavailable(name) {
  const Stub = class {
    constructor() {
      throw new E2eeUnavailableError();
    }
    static initialize() {
      throw new E2eeUnavailableError();
    }
  };
  Object.defineProperty(Stub, "name", { value: name });
  return Stub;
}

const names = [
  "Attachment",
  "DeviceId",
  "DeviceLists",
  "EncryptedAttachment",
  "EncryptionSettings",
  "OlmMachine",
  "RoomId",
  "UserId",
];
for (const name of names) module.exports[name] = unavailable(name);
module.exports.E2EE_AVAILABLE = false;
module.exports.E2eeUnavailableError = E2eeUnavailableError;
