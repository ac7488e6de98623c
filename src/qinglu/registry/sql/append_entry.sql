-- Append a hash-chained ledger entry, exactly as core/ledger.py's run_write does: the body
-- {"moves", "records", "request", "result"} as canonical JSON, the result given its entry
-- (and its id, if it has none), hashed by entry_hash's recipe over the previous hash.
--
-- `p_request` and `p_records` come from Python as canonical JSON text already (its
-- canonical_json); the moves and the result are written canonically here. All of the
-- body but the sequence is written before the ledger head is locked: every writer queues
-- on that lock, so it is held only for the append itself.

-- Migration 0011's version took the whole body as one jsonb.
DROP FUNCTION IF EXISTS qinglu_append_entry(text, text, text, jsonb);

CREATE OR REPLACE FUNCTION qinglu_append_entry(
    p_actor text, p_kind text, p_key text, p_request text, p_moves jsonb, p_records text,
    p_result jsonb
) RETURNS jsonb LANGUAGE plpgsql AS $fn$
DECLARE
    has_id boolean := p_result ? 'id';
    body_head text;
    before_entry text;
    before_id text;
    after_id text;
    head record;
    seq bigint;
    body text;
    recorded text;
    digest text;
BEGIN
    body_head := '{"moves":' || qinglu_canonical_json(p_moves) || ',"records":' || p_records
                 || ',"request":' || p_request || ',"result":{';
    -- The result's other keys, in order, around the places of "entry" and "id".
    SELECT coalesce(string_agg(pair, ',' ORDER BY key) FILTER (WHERE key < 'entry'), ''),
           coalesce(string_agg(pair, ',' ORDER BY key)
                    FILTER (WHERE key > 'entry' AND (has_id OR key < 'id')), ''),
           coalesce(string_agg(pair, ',' ORDER BY key) FILTER (WHERE NOT has_id AND key > 'id'),
                    '')
    INTO before_entry, before_id, after_id
    FROM (SELECT key COLLATE "C" AS key, to_json(key)::text || ':' || qinglu_canonical_json(value)
          FROM jsonb_each(p_result - 'entry')) AS pairs(key, pair);
    -- Check the deferred no-overlap constraint now, before taking the ledger-head lock,
    -- so that every other writer does not wait for it at our commit.
    SET CONSTRAINTS ALL IMMEDIATE;
    SELECT sequence, hash INTO head FROM ledger_head WHERE id = 1 FOR UPDATE;
    seq := head.sequence + 1;
    body := body_head || concat_ws(',', nullif(before_entry, ''), '"entry":' || seq,
                                   nullif(before_id, ''),
                                   CASE WHEN NOT has_id THEN '"id":' || seq END,
                                   nullif(after_id, '')) || '}}';
    recorded := to_char(clock_timestamp() AT TIME ZONE 'UTC',
                        'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"');
    digest := encode(sha256(convert_to('[' || seq || ',' || to_json(recorded)::text || ','
        || to_json(p_actor)::text || ',' || to_json(p_kind)::text || ','
        || to_json(coalesce(p_key, ''))::text || ',' || to_json(body)::text || ','
        || to_json(head.hash::text)::text || ']', 'UTF8')), 'hex');
    INSERT INTO ledger_entries (sequence, recorded_at, actor, kind, idempotency_key, body,
                                prev_hash, hash)
    VALUES (seq, recorded, p_actor, p_kind, p_key, body, head.hash, digest);
    UPDATE ledger_head SET sequence = seq, hash = digest WHERE id = 1;
    RETURN jsonb_build_object('id', seq) || p_result || jsonb_build_object('entry', seq);
END
$fn$;
