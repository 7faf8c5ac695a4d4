// The dashboard's calls to its server. Reads are plain GETs; every POST carries the header the
// server requires of state-changing requests (a page of another site cannot send it).

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message ?? `the server answered ${status}`);
    this.status = status;
    this.code = body?.error?.code;
  }
}

async function answer(response) {
  const body = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

/** GET /dashboard-api/<path>, with the query's non-empty values. */
export async function get(path, query = {}) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query))
    if (value !== undefined && value !== null && value !== '') params.set(key, String(value));
  const search = params.toString();
  return answer(await fetch(`/dashboard-api/${path}${search ? `?${search}` : ''}`, { headers: { accept: 'application/json' } }));
}

/** POST /dashboard-api/<path> with a JSON body (or none). */
export async function post(path, body) {
  const headers = { accept: 'application/json', 'x-cesar-dashboard': '1' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  return answer(
    await fetch(`/dashboard-api/${path}`, {
      method: 'POST',
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
    }),
  );
}
