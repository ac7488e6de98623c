-- A transfer in one round trip, as registry/actions.py's transfer does it on the Python
-- path: lock and check both accounts, move the units, append the entry. Returns the
-- result as JSON text.

CREATE OR REPLACE FUNCTION qinglu_transfer(
    p_from integer, p_to integer, p_product text, p_quantity bigint, p_project integer,
    p_vintage integer, p_actor text, p_key text, p_request text
) RETURNS text LANGUAGE plpgsql AS $fn$
DECLARE
    moved record;
BEGIN
    PERFORM qinglu_lock_accounts(p_from, p_to);
    SELECT * INTO moved FROM qinglu_move_units(p_from, p_to, p_product, p_quantity, 'held',
                                                NULL, p_project, p_vintage);
    RETURN qinglu_append_entry(p_actor, 'transfer', p_key, p_request, moved.moves, '{}',
        jsonb_build_object('product', p_product, 'quantity', p_quantity,
            'from_account', p_from, 'to_account', p_to, 'serials', moved.serials))::text;
END
$fn$;
