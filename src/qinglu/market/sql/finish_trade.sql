-- The second half of a payment: store the voucher signed in Python and append the trade's
-- entry, whose request, records and result market/on_postgres.py writes as the Python
-- path does (the request and records as canonical JSON text; the moves and the result as
-- JSON, written canonically here).

-- Migration 0011's version took the whole body as one text.
DROP FUNCTION IF EXISTS qinglu_finish_trade(integer, integer, text, text, text, text, text,
                                            text, text);

CREATE OR REPLACE FUNCTION qinglu_finish_trade(
    p_order integer, p_certificate integer, p_number text, p_facts text, p_signature text,
    p_key_id text, p_actor text, p_key text, p_request text, p_moves jsonb,
    p_records text, p_result jsonb
) RETURNS text LANGUAGE plpgsql AS $fn$
DECLARE
    appended record;
BEGIN
    INSERT INTO certificates (id, number, kind, order_id, facts, signature, key_id, issued_at)
    VALUES (p_certificate, p_number, 'trade', p_order, p_facts::json, p_signature, p_key_id,
            now());
    SELECT * INTO appended FROM qinglu_append_entry(p_actor, 'trade', p_key, p_request,
        qinglu_moves_text(p_moves), p_records, qinglu_result_template(p_result));
    UPDATE orders SET voucher_number = p_number, entry_sequence = appended.entry
    WHERE id = p_order;
    RETURN appended.result;
END
$fn$;
