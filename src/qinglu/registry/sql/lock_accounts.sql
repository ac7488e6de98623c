-- Lock a movement's two accounts in id order and check them, as registry/actions.py's
-- _lock_accounts, _check_source and _check_destination do: an unknown account first
-- (the lower id of two unknown ones, as Python looks them up in id order; SQLSTATE QL001,
-- DETAIL its id), then a source (QL002) or destination (QL003) whose kind may not give or
-- take units (DETAIL: kind and id). The kinds are Python's SOURCE_KINDS and
-- DESTINATION_KINDS; registry/actions.py words every refusal.

CREATE OR REPLACE FUNCTION qinglu_lock_accounts(p_from integer, p_to integer)
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
    src_kind text;
    dst_kind text;
BEGIN
    -- One statement: lock both rows in id order and read both kinds.
    SELECT max(kind) FILTER (WHERE id = p_from), max(kind) FILTER (WHERE id = p_to)
    INTO src_kind, dst_kind
    FROM (SELECT id, kind FROM accounts WHERE id IN (p_from, p_to) ORDER BY id FOR UPDATE)
         AS locked;
    IF src_kind IS NULL OR dst_kind IS NULL THEN
        RAISE EXCEPTION 'unknown account' USING ERRCODE = 'QL001', DETAIL = (CASE
            WHEN src_kind IS NULL AND dst_kind IS NULL THEN least(p_from, p_to)
            WHEN src_kind IS NULL THEN p_from
            ELSE p_to END)::text;
    END IF;
    IF NOT src_kind = ANY ({{SOURCE_KINDS}}) THEN
        RAISE EXCEPTION 'source kind' USING ERRCODE = 'QL002',
            DETAIL = src_kind || ' ' || p_from;
    END IF;
    IF NOT dst_kind = ANY ({{DESTINATION_KINDS}}) THEN
        RAISE EXCEPTION 'destination kind' USING ERRCODE = 'QL003',
            DETAIL = dst_kind || ' ' || p_to;
    END IF;
END
$fn$;
