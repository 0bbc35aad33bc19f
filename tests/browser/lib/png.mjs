// PNG files for the browser test: the pictures it uploads (a diagonal gradient with two circles, easy to see in
// a screenshot and with colours known at every point), and a reader for the screenshots Chromium writes, so a
// step can check what a screenshot shows. The reader takes what Chromium writes (8-bit RGB or RGBA, not
// interlaced) and refuses anything else.
import { deflateSync, inflateSync } from 'node:zlib';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes) {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = CRC_TABLE[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** The [r, g, b] of the test picture's pixel (x, y), in a picture of width x height. */
export function pictureColour(x, y, width, height) {
  const circle = [[0.3, 0.45, 0.22], [0.68, 0.55, 0.16]].some(
    ([cx, cy, r]) => (x / width - cx) ** 2 + ((y / height - cy) * (height / width)) ** 2 < (r * r) / 2,
  );
  if (circle) return [255, 200, 60];
  return [Math.round(40 + (180 * x) / width), Math.round(90 + (120 * y) / height), 220];
}

/** A width x height RGB PNG of the test picture. */
export function png(width, height) {
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y += 1) {
    const row = y * (width * 3 + 1);
    raw[row] = 0;
    for (let x = 0; x < width; x += 1) raw.set(pictureColour(x, y, width, height), row + 1 + x * 3);
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([
    SIGNATURE,
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function paeth(a, b, c) {
  const p = a + b - c;
  const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
  if (pa <= pb && pa <= pc) return a;
  return pb <= pc ? b : c;
}

/**
 * Decodes a PNG (checking its signature and every chunk's CRC): its size, the [r, g, b] of any pixel, and how
 * many different colours it shows (counted up to `limit`).
 */
export function readPng(bytes) {
  if (bytes.length < 8 || !bytes.subarray(0, 8).equals(SIGNATURE)) throw new Error('not a PNG: no PNG signature');
  let header = null;
  const data = [];
  for (let offset = 8; offset + 12 <= bytes.length;) {
    const length = bytes.readUInt32BE(offset);
    const type = bytes.toString('latin1', offset + 4, offset + 8);
    const end = offset + 8 + length;
    if (end + 4 > bytes.length) throw new Error(`PNG chunk ${type} runs past the end of the file`);
    if (bytes.readUInt32BE(end) !== crc32(bytes.subarray(offset + 4, end))) throw new Error(`PNG chunk ${type}: bad CRC`);
    const body = bytes.subarray(offset + 8, end);
    if (type === 'IHDR') {
      header = { width: body.readUInt32BE(0), height: body.readUInt32BE(4), depth: body[8], colourType: body[9], interlace: body[12] };
    } else if (type === 'IDAT') {
      data.push(body);
    } else if (type === 'IEND') {
      break;
    }
    offset = end + 4;
  }
  if (!header) throw new Error('PNG without an IHDR chunk');
  const channels = { 2: 3, 6: 4 }[header.colourType];
  if (header.depth !== 8 || !channels || header.interlace !== 0) throw new Error(`a PNG this reader does not take: ${JSON.stringify(header)}`);
  const { width, height } = header;
  const stride = width * channels;
  const raw = inflateSync(Buffer.concat(data));
  if (raw.length !== (stride + 1) * height) throw new Error(`PNG data of ${raw.length} bytes for ${width}x${height}`);
  const pixels = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y += 1) {
    const filter = raw[y * (stride + 1)];
    const line = y * (stride + 1) + 1;
    const out = y * stride;
    for (let i = 0; i < stride; i += 1) {
      const a = i >= channels ? pixels[out + i - channels] : 0;
      const b = y > 0 ? pixels[out + i - stride] : 0;
      const c = y > 0 && i >= channels ? pixels[out + i - stride - channels] : 0;
      const predictor = [0, a, b, (a + b) >> 1, paeth(a, b, c)][filter];
      if (predictor === undefined) throw new Error(`PNG row ${y}: unknown filter ${filter}`);
      pixels[out + i] = (raw[line + i] + predictor) & 0xff;
    }
  }
  return {
    width,
    height,
    pixel(x, y) {
      const at = y * stride + x * channels;
      return [pixels[at], pixels[at + 1], pixels[at + 2]];
    },
    distinctColours(limit) {
      const seen = new Set();
      for (let at = 0; at < pixels.length && seen.size < limit; at += channels) {
        seen.add((pixels[at] << 16) | (pixels[at + 1] << 8) | pixels[at + 2]);
      }
      return seen.size;
    },
  };
}
