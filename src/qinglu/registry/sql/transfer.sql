-- A transfer in one round trip, as registry/actions.py's transfer does it on the Python
-- path: lock and check both accounts, move the units, append the entry. The result is
-- written as canonical JSON directly (keys in code point order; integers, the product
-- code and serials as JSON strings), with U+0001 where the entry's sequence goes (see
-- append_entry.sql). Returns the result as JSON text.

CREATE OR REPLACE FUNCTION qinglu_transfer(
    p_from integer, p_to integer, p_product text, p_quantity bigint, p_project integer,
    p_vintage integer, p_actor text, p_key text, p_request text
) RETURNS text LANGUAGE plpgsql AS $fn$
DECLARE
    moved record;
    appended record;
BEGIN
    PERFORM qinglu_lock_accounts(p_from, p_to);
    SELECT * INTO moved FROM qinglu_move_units(p_from, p_to, p_product, p_quantity, 'held',
                                                NULL, p_project, p_vintage);
    SELECT * INTO appended FROM qinglu_append_entry(p_actor, 'transfer', p_key, p_request,
        moved.moves, '{}', '{"entry":' || chr(1) || ',"from_account":' || p_from || ',"id":' || chr(1)
        || ',"product":' || to_json(p_product)::text || ',"quantity":' || p_quantity
        || ',"serials":' || array_to_json(moved.serials)::text || ',"to_account":' || p_to
        || '}');
    RETURN appended.result;
END
$fn$;
