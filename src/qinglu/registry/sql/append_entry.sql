-- Append a hash-chained ledger entry, exactly as core/ledger.py's run_write does: the body
-- {"moves", "records", "request", "result"} as canonical JSON, the result given its entry
-- (and its id, if it has none), hashed by entry_hash's recipe over the previous hash.
--
-- Every part comes as canonical JSON text already (core/ledger.py's canonical_json): the
-- request and records from Python, the moves from qinglu_move_units, the result written
-- by its caller (directly, or by qinglu_result_template from a jsonb result). The result
-- holds the character U+0001 wherever the entry's sequence goes ("entry", and "id" when
-- the result has no id of its own): canonical JSON escapes every control character inside
-- a string and has none outside one, so that character marks only those places. The body
-- is thus one concatenation: nothing is parsed or re-canonicalised, and the ledger head's
-- lock, on which every writer queues, is held only for the append itself.
-- Returns the entry's sequence and the result as written in the body.

-- Earlier versions: migration 0011's took the whole body as one jsonb, the next the moves
-- and result as jsonb.
DROP FUNCTION IF EXISTS qinglu_append_entry(text, text, text, jsonb);
DROP FUNCTION IF EXISTS qinglu_append_entry(text, text, text, text, jsonb, text, jsonb);

CREATE OR REPLACE FUNCTION qinglu_append_entry(
    p_actor text, p_kind text, p_key text, p_request text, p_moves text, p_records text,
    p_result text, OUT entry bigint, OUT result text
) LANGUAGE plpgsql AS $fn$
DECLARE
    head record;
    body text;
    recorded text;
    digest text;
BEGIN
    -- Check the deferred no-overlap constraint now, before taking the ledger-head lock,
    -- so that every other writer does not wait for it at our commit.
    SET CONSTRAINTS ALL IMMEDIATE;
    SELECT sequence, hash INTO head FROM ledger_head WHERE id = 1 FOR UPDATE;
    entry := head.sequence + 1;
    result := replace(p_result, chr(1), entry::text);
    body := '{"moves":' || p_moves || ',"records":' || p_records || ',"request":' || p_request
            || ',"result":' || result || '}';
    recorded := to_char(clock_timestamp() AT TIME ZONE 'UTC',
                        'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"');
    digest := encode(sha256(convert_to('[' || entry || ',' || to_json(recorded)::text || ','
        || to_json(p_actor)::text || ',' || to_json(p_kind)::text || ','
        || to_json(coalesce(p_key, ''))::text || ',' || to_json(body)::text || ','
        || to_json(head.hash::text)::text || ']', 'UTF8')), 'hex');
    INSERT INTO ledger_entries (sequence, recorded_at, actor, kind, idempotency_key, body,
                                prev_hash, hash)
    VALUES (entry, recorded, p_actor, p_kind, p_key, body, head.hash, digest);
    UPDATE ledger_head SET sequence = entry, hash = digest WHERE id = 1;
END
$fn$;
