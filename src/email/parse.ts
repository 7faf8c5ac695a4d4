import PostalMime, { type Address, addressParser } from 'postal-mime';

/**
 * One message file, parsed by postal-mime (a maintained MIME parser: multipart, quoted-printable and
 * base64, RFC 2047 encoded words, charsets through TextDecoder) into a plain object with only what
 * email_ingest keeps. Every string is fit for a PostgreSQL text or jsonb column (no NUL).
 */

export interface EmailAddress {
  name: string;
  address: string;
}

export interface EmailAttachment {
  filename: string | null;
  mime_type: string;
  /** Decoded bytes. */
  size: number;
}

export interface ParsedEmail {
  /** The Message-ID without angle brackets, its domain in lower case; null when the message has none (usable). */
  message_id: string | null;
  from: EmailAddress | null;
  to: string[];
  cc: string[];
  /** Every Delivered-To header (the envelope recipient each delivery added). */
  delivered_to: string[];
  subject: string | null;
  /** The Date header as ISO 8601 UTC; null when missing or not a date. */
  date: string | null;
  /** The text part; the HTML part made rough text when there is no text part; '' when neither. */
  text: string;
  text_from: 'text' | 'html' | 'none';
  attachments: EmailAttachment[];
}

/** A file that is not an email: no header at all, or one the MIME parser refuses. */
export class MalformedEmailError extends Error {
  override readonly name = 'MalformedEmailError';
}

export async function parseEmail(raw: Uint8Array): Promise<ParsedEmail> {
  if (raw.length === 0) throw new MalformedEmailError('the file is empty');
  let email: Awaited<ReturnType<typeof PostalMime.parse>>;
  try {
    email = await PostalMime.parse(raw, { attachmentEncoding: 'arraybuffer' });
  } catch (err) {
    throw new MalformedEmailError(`the MIME parser refused it: ${(err as Error).message}`);
  }
  if (email.headers.length === 0) throw new MalformedEmailError('it has no header');
  const repair = declaresSingleByteCharset(raw) ? repairWindows1252 : (s: string) => s;
  const clean = (s: string | undefined): string | null => {
    if (s === undefined) return null;
    const text = repair(stripNul(s)).replace(/\s+/g, ' ').trim();
    return text === '' ? null : text;
  };

  const from = firstMailbox(email.from);
  const to = addresses(email.to);
  const cc = addresses(email.cc);
  const deliveredTo = unique(
    email.headers.filter((h) => h.key === 'delivered-to').flatMap((h) => addresses(addressParser(h.value, { flatten: true }) as Address[])),
  );

  let text = email.text !== undefined && email.text.trim() !== '' ? email.text : '';
  let textFrom: ParsedEmail['text_from'] = text === '' ? 'none' : 'text';
  if (text === '' && email.html !== undefined && email.html.trim() !== '') {
    text = htmlToText(email.html);
    textFrom = 'html';
  }

  return {
    message_id: normaliseMessageId(email.messageId),
    from: from ? { name: clean(from.name) ?? '', address: stripNul(from.address).trim() } : null,
    to,
    cc,
    delivered_to: deliveredTo,
    subject: clean(email.subject),
    date: isoDate(email.date),
    text: repair(stripNul(text)).replace(/\r\n?/g, '\n').trim(),
    text_from: textFrom,
    attachments: email.attachments.map((a) => ({
      filename: a.filename === null ? null : clean(a.filename),
      mime_type: stripNul(a.mimeType),
      size: typeof a.content === 'string' ? Buffer.byteLength(a.content) : a.content.byteLength,
    })),
  };
}

/**
 * `<Abc.123@Mail.Example.COM>` → `Abc.123@mail.example.com`: the first bracketed id (or the whole
 * value), its domain lower-cased (the local part is case-sensitive). Null when there is none, or
 * it is too long to be one (RFC 5322 lines end at 998 characters).
 */
export function normaliseMessageId(value: string | undefined): string | null {
  if (value === undefined) return null;
  const bracketed = /<([^<>]*)>/.exec(value);
  const id = stripNul(bracketed ? bracketed[1]! : value).replace(/\s+/g, '');
  if (id === '' || id.length > 998) return null;
  const at = id.lastIndexOf('@');
  return at === -1 ? id : `${id.slice(0, at)}@${id.slice(at + 1).toLowerCase()}`;
}

function firstMailbox(address: Address | undefined): EmailAddress | undefined {
  if (!address) return undefined;
  if (address.group === undefined) return address.address ? address : undefined;
  return address.group.find((m) => m.address);
}

/** The addresses of a header, groups flattened, each once, lower-cased (matching is by address). */
function addresses(list: Address[] | undefined): string[] {
  return unique(
    (list ?? [])
      .flatMap((a) => (a.group === undefined ? [a] : a.group))
      .map((m) =>
        stripNul(m.address ?? '')
          .trim()
          .toLowerCase(),
      )
      .filter((a) => a !== ''),
  );
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}

function isoDate(value: string | undefined): string | null {
  if (value === undefined) return null;
  const date = new Date(value);
  const year = date.getUTCFullYear();
  return Number.isFinite(date.getTime()) && year >= 1970 && year <= 9999 ? date.toISOString() : null;
}

function stripNul(text: string): string {
  return text.includes('\0') ? text.replaceAll('\0', '') : text;
}

// Charsets ------------------------------------------------------------------------------------------

/**
 * Whether the message declares ISO-8859-1, windows-1252 or US-ASCII anywhere (a part's charset, or an
 * RFC 2047 encoded word). The WHATWG Encoding Standard that TextDecoder follows decodes all three as
 * windows-1252; Node.js 20.18.3+ and 22.13+ decode bytes 0x80-0x9F of them as the C1 control
 * characters U+0080-U+009F instead (nodejs/node#56542, #60888), which turns a windows-1252 € or
 * quotation mark into an invisible control character. The repair below maps them back.
 */
function declaresSingleByteCharset(raw: Uint8Array): boolean {
  return /(charset\s*=\s*["']?|=\?)(iso[-_]?8859-1|latin-?1|l1|cp819|windows-1252|cp1252|x-cp1252|us-ascii|ascii)\b/i.test(
    Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('latin1'),
  );
}

/** windows-1252's characters for 0x80-0x9F (WHATWG index); 0x81, 0x8D, 0x8F, 0x90 and 0x9D stay the C1 control they are. */
const windows1252High = '€\u0081‚ƒ„…†‡ˆ‰Š‹Œ\u008dŽ\u008f\u0090‘’“”•–—˜™š›œ\u009džŸ';

function repairWindows1252(text: string): string {
  return text.replace(/[\u0080-\u009f]/g, (c) => windows1252High[c.charCodeAt(0) - 0x80]!);
}

// HTML to rough text --------------------------------------------------------------------------------

const entities: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: ' ',
  shy: '',
  ndash: '–',
  mdash: '—',
  hellip: '…',
  lsquo: '‘',
  rsquo: '’',
  ldquo: '“',
  rdquo: '”',
  bdquo: '„',
  laquo: '«',
  raquo: '»',
  euro: '€',
  copy: '©',
  reg: '®',
  trade: '™',
  auml: 'ä',
  ouml: 'ö',
  uuml: 'ü',
  Auml: 'Ä',
  Ouml: 'Ö',
  Uuml: 'Ü',
  szlig: 'ß',
  eacute: 'é',
  egrave: 'è',
  agrave: 'à',
  ccedil: 'ç',
};

/**
 * HTML made readable as plain text, roughly: scripts, styles and comments dropped, block ends and
 * <br> as line breaks, list items as "- ", tags removed, entities decoded, blank runs collapsed.
 * Enough for a memory an agent reads; not a renderer.
 */
export function htmlToText(html: string): string {
  return html
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/<(script|style|head|title)\b[\s\S]*?<\/\1\s*>/gi, '')
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<li\b[^>]*>/gi, '\n- ')
    .replace(/<\/(p|div|h[1-6]|ul|ol|tr|table|blockquote|pre|section|article|header|footer)\s*>/gi, '\n')
    .replace(/<(p|div|h[1-6]|ul|ol|tr|table|blockquote|pre)\b[^>]*>/gi, '\n')
    .replace(/<\/t[dh]\s*>/gi, '\t')
    .replace(/<[^>]*>/g, '')
    .replace(/&(#x[0-9a-f]{1,6}|#[0-9]{1,7}|[a-z][a-z0-9]{1,31});/gi, (whole, name: string) => {
      if (name[0] === '#') {
        const code = name[1] === 'x' || name[1] === 'X' ? Number.parseInt(name.slice(2), 16) : Number(name.slice(1));
        return code > 0 && code <= 0x10ffff && (code < 0xd800 || code > 0xdfff) ? String.fromCodePoint(code) : whole;
      }
      return entities[name] ?? entities[name.toLowerCase()] ?? whole;
    })
    .replace(/[ \t\u00a0]+/g, ' ')
    .replace(/ *\n */g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}
