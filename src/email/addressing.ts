import type { ParsedEmail } from './parse.js';

/**
 * Which agent a message is addressed to. An address names an agent when its local part, or the tag
 * after its '+', slugified, is the slug of the agent's name: `report-writer@…`, `Report.Writer@…`
 * and `agents+report-writer@…` all name "Report Writer"; `carmela-soprano-analyst@…` names
 * "Carmela_Soprano_Analyst". The domain does not matter (the Maildir is the agents' mailbox). The
 * addresses are tried in order: Delivered-To (the recipient of this very copy), then To, then Cc;
 * the first that names an agent wins, so one message is one agent's memory. Two agents whose names
 * have the same slug: the older (lower id) one.
 */

export interface AgentRef {
  id: number;
  name: string;
}

/** Lower case, accents dropped, every run of other characters one '-': "Dr_Melfi Researcher" → dr-melfi-researcher. */
export function slugify(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/** What an address may name: its '+' tag, then its local part without the tag. */
export function addressSlugs(address: string): string[] {
  const at = address.lastIndexOf('@');
  const local = at === -1 ? address : address.slice(0, at);
  const plus = local.indexOf('+');
  const names = plus === -1 ? [local] : [local.slice(plus + 1), local.slice(0, plus)];
  return names.map(slugify).filter((s) => s !== '');
}

export class AgentDirectory {
  private readonly bySlug = new Map<string, AgentRef>();

  constructor(agents: readonly AgentRef[]) {
    for (const agent of [...agents].sort((a, b) => a.id - b.id)) {
      const slug = slugify(agent.name);
      if (slug !== '' && !this.bySlug.has(slug)) this.bySlug.set(slug, agent);
    }
  }

  /** The agent the message is addressed to, and the address that named it. */
  addressee(email: Pick<ParsedEmail, 'delivered_to' | 'to' | 'cc'>): { agent: AgentRef; address: string } | undefined {
    for (const address of [...email.delivered_to, ...email.to, ...email.cc]) {
      for (const slug of addressSlugs(address)) {
        const agent = this.bySlug.get(slug);
        if (agent) return { agent, address };
      }
    }
    return undefined;
  }
}
