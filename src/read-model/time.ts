/** Timestamps leave the read model as ISO 8601 strings (UTC), as JSON answers carry them. */
export const iso = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);
