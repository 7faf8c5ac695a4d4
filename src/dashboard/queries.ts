/** The dashboard's one write of its own: the record of an operator's action. */
export const recordActionSql = `
INSERT INTO dashboard_actions (action, target, actor, ok, detail)
VALUES ($1, $2, $3, $4, $5)
RETURNING id, at`;
