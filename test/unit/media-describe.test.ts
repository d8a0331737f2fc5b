import { describe, expect, it } from "vitest";
import { describeMedia } from "../../src/media/describe.js";
import { png } from "../helpers/png.js";

// A 3x2 GIF87a, one colour: header, logical screen, 2-entry palette, image descriptor, LZW data.
const GIF_3X2 = Buffer.from(
  "474946383761030002008000000000000000002c00000000030002000008060001081c1810003b",
  "hex",
);
// 4x3 baseline JPEGs written by Pillow; the second carries EXIF orientation 6 (turned 90°).
const JPEG_4X3 = Buffer.from(
  "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDABALDA4MChAODQ4SERATGCgaGBYWGDEjJR0oOjM9PDkzODdASFxOQERXRTc4UG1RV19iZ2hnPk1xeXBkeFxlZ2P/2wBDARESEhgVGC8aGi9jQjhCY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2P/wAARCAADAAQDASIAAhEBAxEB/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/8QAHwEAAwEBAQEBAQEBAQAAAAAAAAECAwQFBgcICQoL/8QAtREAAgECBAQDBAcFBAQAAQJ3AAECAxEEBSExBhJBUQdhcRMiMoEIFEKRobHBCSMzUvAVYnLRChYkNOEl8RcYGRomJygpKjU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6goOEhYaHiImKkpOUlZaXmJmaoqOkpaanqKmqsrO0tba3uLm6wsPExcbHyMnK0tPU1dbX2Nna4uPk5ebn6Onq8vP09fb3+Pn6/9oADAMBAAIRAxEAPwDHooorhPqD/9k=",
  "base64",
);
const JPEG_4X3_TURNED = Buffer.from(
  "/9j/4AAQSkZJRgABAQAAAQABAAD/4QAiRXhpZgAATU0AKgAAAAgAAQESAAMAAAABAAYAAAAAAAD/2wBDABALDA4MChAODQ4SERATGCgaGBYWGDEjJR0oOjM9PDkzODdASFxOQERXRTc4UG1RV19iZ2hnPk1xeXBkeFxlZ2P/2wBDARESEhgVGC8aGi9jQjhCY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2P/wAARCAADAAQDASIAAhEBAxEB/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/8QAHwEAAwEBAQEBAQEBAQAAAAAAAAECAwQFBgcICQoL/8QAtREAAgECBAQDBAcFBAQAAQJ3AAECAxEEBSExBhJBUQdhcRMiMoEIFEKRobHBCSMzUvAVYnLRChYkNOEl8RcYGRomJygpKjU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6goOEhYaHiImKkpOUlZaXmJmaoqOkpaanqKmqsrO0tba3uLm6wsPExcbHyMnK0tPU1dbX2Nna4uPk5ebn6Onq8vP09fb3+Pn6/9oADAMBAAIRAxEAPwDl6KKK+oMD/9k=",
  "base64",
);
const NOT_AN_IMAGE = Buffer.from("this is plain text, whatever the label says");

describe("describeMedia", () => {
  it.each([
    ["1x1 PNG", png(1, 1, 0x7f), "image/png", { msgtype: "m.image", body: "image.png", w: 1, h: 1 }],
    ["5x4 PNG", png(5, 4, 0x7f), "image/png", { msgtype: "m.image", body: "image.png", w: 5, h: 4 }],
    ["3x2 GIF", GIF_3X2, "image/gif", { msgtype: "m.image", body: "image.gif", w: 3, h: 2 }],
    ["4x3 JPEG", JPEG_4X3, "image/jpeg", { msgtype: "m.image", body: "image.jpg", w: 4, h: 3 }],
    ["JPEG turned by EXIF", JPEG_4X3_TURNED, "image/jpeg", { msgtype: "m.image", body: "image.jpg", w: 3, h: 4 }],
    ["JPEG with parameters in its type", JPEG_4X3, "Image/JPEG; name=x", { msgtype: "m.image", body: "image.jpg", w: 4, h: 3 }],
  ])("%s gets its size", (_name, data, contentType, expected) => {
    const { msgtype, body, w, h } = expected;
    expect(describeMedia(data, contentType)).toEqual({
      msgtype,
      body,
      info: { mimetype: contentType.split(";")[0]!.toLowerCase(), size: data.length, w, h },
    });
  });

  it("sends bytes labelled as an image that no parser reads as a file", () => {
    expect(describeMedia(NOT_AN_IMAGE, "image/jpeg")).toEqual({
      msgtype: "m.file",
      body: "file.jpg",
      info: { mimetype: "image/jpeg", size: NOT_AN_IMAGE.length },
    });
  });

  it.each([
    ["video/mp4", "m.video", "video.mp4"],
    ["video/3gpp", "m.video", "video.3gp"],
    ["audio/mpeg", "m.audio", "audio.mp3"],
    ["audio/amr", "m.audio", "audio.amr"],
    ["audio/ogg", "m.audio", "audio.ogg"],
    ["audio/wav", "m.audio", "audio.wav"],
    ["application/pdf", "m.file", "file.pdf"],
    ["text/vcard", "m.file", "file.vcf"],
    ["text/x-vcard", "m.file", "file.vcf"],
    ["text/plain; charset=utf-8", "m.file", "file.txt"],
    ["application/zip", "m.file", "file.zip"],
    ["application/vnd.openxmlformats-officedocument.wordprocessingml.document", "m.file", "file"],
    ["video/x-unknown-thing", "m.video", "video"],
    ["application/octet-stream", "m.file", "file"],
  ])("%s → %s named %s", (contentType, msgtype, body) => {
    const described = describeMedia(NOT_AN_IMAGE, contentType);
    expect(described.msgtype).toBe(msgtype);
    expect(described.body).toBe(body);
    expect(described.info).toEqual({ mimetype: contentType.split(";")[0], size: NOT_AN_IMAGE.length });
  });

  it.each([["", "application/octet-stream"], ["garbage", "application/octet-stream"], ["text/plain\r\nx: y", "application/octet-stream"]])(
    "treats the unparseable type %j as plain bytes",
    (contentType, mimetype) => {
      expect(describeMedia(NOT_AN_IMAGE, contentType)).toMatchObject({ msgtype: "m.file", body: "file", info: { mimetype } });
    },
  );

  it.each([
    ["holiday.jpg", "holiday.jpg"],
    ["  spaced name.png  ", "spaced name.png"],
    ["/etc/passwd", "passwd"],
    ["C:\\Users\\me\\photo.png", "photo.png"],
    ["photo\u202egpj.exe", "photogpj.exe"],
    ["tab\there.png", "tabhere.png"],
    ["..", "image.png"],
    ["dir/", "image.png"],
    ["", "image.png"],
    [`${"a".repeat(200)}.png`, `${"a".repeat(116)}.png`],
  ])("uses the file name %j as %j", (filename, body) => {
    expect(describeMedia(png(1, 1, 0x7f), "image/png", filename).body).toBe(body);
  });
});
