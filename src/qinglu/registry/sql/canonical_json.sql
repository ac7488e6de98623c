-- Canonical JSON, byte for byte as core/ledger.py's canonical_json writes it
-- (json.dumps with sort_keys, separators "," and ":", ensure_ascii off): object keys in
-- code point order (COLLATE "C" compares UTF-8 bytes, which is that order) and no spaces.
-- Strings and numbers are jsonb's own text, which escapes exactly what Python escapes
-- (", \ and control characters, as \n or \u00XX). A ledger entry's hash covers its body's
-- text, so the server path must write the very bytes the Python path writes.

CREATE OR REPLACE FUNCTION qinglu_canonical_container(p_value jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $fn$
BEGIN
    IF jsonb_typeof(p_value) = 'object' THEN
        RETURN '{' || coalesce((
            SELECT string_agg(to_json(key)::text || ':' || qinglu_canonical_json(value), ','
                              ORDER BY key COLLATE "C")
            FROM jsonb_each(p_value)), '') || '}';
    END IF;
    RETURN '[' || coalesce((
        SELECT string_agg(qinglu_canonical_json(value), ',' ORDER BY position)
        FROM jsonb_array_elements(p_value) WITH ORDINALITY AS element(value, position)), '')
        || ']';
END
$fn$;

-- Scalars are their jsonb text; only objects and arrays cost a call (this one is inlined).
CREATE OR REPLACE FUNCTION qinglu_canonical_json(p_value jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
    SELECT CASE WHEN jsonb_typeof(p_value) IN ('object', 'array')
                THEN qinglu_canonical_container(p_value) ELSE p_value::text END
$fn$;

-- The two below are PL/pgSQL rather than SQL: a SQL function that cannot be inlined (these
-- hold sub-selects) is planned again at every call, a PL/pgSQL one once per session.

-- A result given as jsonb (a trade's, from Python), as qinglu_append_entry takes it: its
-- canonical JSON text with U+0001 for the entry's sequence, under "entry" and, when the
-- result has no id of its own, under "id".
CREATE OR REPLACE FUNCTION qinglu_result_template(p_result jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $fn$
BEGIN
    RETURN (SELECT '{' || string_agg(to_json(key)::text || ':' || CASE
                WHEN key = 'entry' OR (key = 'id' AND NOT p_result ? 'id') THEN chr(1)
                ELSE qinglu_canonical_json(value) END, ',' ORDER BY key COLLATE "C") || '}'
            FROM jsonb_each(jsonb_build_object('id', 0) || p_result
                            || jsonb_build_object('entry', 0)));
END
$fn$;

-- A ledger entry's moves given as jsonb (a trade's, back from Python): arrays of scalars,
-- whose jsonb text is already canonical, joined without spaces.
CREATE OR REPLACE FUNCTION qinglu_moves_text(p_moves jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $fn$
BEGIN
    RETURN (SELECT '[' || coalesce(string_agg((
                SELECT '[' || string_agg(field::text, ',' ORDER BY position) || ']'
                FROM jsonb_array_elements(move) WITH ORDINALITY AS fields(field, position)
            ), ',' ORDER BY number), '') || ']'
            FROM jsonb_array_elements(p_moves) WITH ORDINALITY AS moves(move, number));
END
$fn$;
