-- Move `p_quantity` units of a product from an account (its blocks in state `p_state`,
-- of hold `p_hold` if given, of a project and vintage if given) to `p_to`, held: as
-- registry/blocks.py's take and move do. Blocks are taken in serial order (oldest
-- issuance first); when only part of the last one is needed, the taken part becomes a
-- new row and the source's row keeps the rest, so the source's row never changes owner.
-- Each moved block is then merged with adjacent blocks of its issuance in the same place.
-- Only tradable units within their validity, whose scope of trade takes in the
-- receiving holder's region, move. Returns the ledger's moves as canonical JSON text
-- (integers and one fixed string: written directly, nothing to re-canonicalise) and the
-- serials moved, in order; refuses with QL004 (DETAIL: the units available) when the
-- account has too few.

-- The previous version returned the moves and serials as jsonb.
DROP FUNCTION IF EXISTS qinglu_move_units(integer, integer, text, bigint, text, integer,
                                          integer, integer);

CREATE FUNCTION qinglu_move_units(
    p_from integer, p_to integer, p_product text, p_quantity bigint, p_state text,
    p_hold integer, p_project integer, p_vintage integer,
    OUT moves text, OUT serials text[]
) LANGUAGE plpgsql AS $fn$
DECLARE
    needed bigint := p_quantity;
    blk record;
    nb record;
    moved_id integer;
    moved_start bigint;
    moved_end bigint;
    moved_ids integer[] := '{}';
    -- The blocks are read a few at a time, in serial order from
    -- ix_unit_blocks_account_state, each read going on after the last block seen. With
    -- one unbounded query, PL/pgSQL's generic plan (kept after five calls) is costed for
    -- an average account of a few blocks: it sorted all the source's blocks, 100-160 ms
    -- a call for an account of 50,000 blocks. A LIMIT makes reading in index order the
    -- cheap plan for any account, with no planning at each call.
    chunk constant integer := 10;
    fetched integer;
    last_issuance integer := 0;
    last_start bigint := -1;
BEGIN
    moves := '';
    serials := '{}';
    <<chunks>>
    LOOP
        fetched := 0;
        FOR blk IN
            SELECT b.id, b.issuance_id, b.serial_start, b.serial_end, p.region, i.project_id,
                   i.vintage
            FROM unit_blocks b
            -- Each block's issuance by its key, never the product's issuances scanned for the
            -- account's blocks: an account holds few blocks, a product has many issuances, and
            -- before ANALYZE has seen a fresh load the planner took (product, serial_start)
            -- for a few rows and joined every issuance of the product to every block (0.4 ms
            -- a transfer instead of 0.14). OFFSET 0 keeps this sub-select from being flattened.
            CROSS JOIN LATERAL (SELECT i.* FROM issuances i WHERE i.id = b.issuance_id
                                OFFSET 0) AS i
            JOIN projects p ON p.id = i.project_id
            WHERE b.account_id = p_from AND b.state = p_state AND i.product = p_product
              AND (b.issuance_id, b.serial_start) > (last_issuance, last_start)
              AND (p_hold IS NULL OR b.hold_id = p_hold)
              AND (p_project IS NULL OR i.project_id = p_project)
              AND (p_vintage IS NULL OR i.vintage = p_vintage)
              -- the product's rules (registry/blocks.py take, trade=True): every server move
              -- is a trade (a transfer or a market settlement). The receiving holder's
              -- GB/T 2260 code is a sub-select the planner runs once, and only when a block
              -- has a scope of trade (most products have none).
              AND i.tradable AND (i.valid_to IS NULL OR i.valid_to >= current_date)
              AND (i.scope_region IS NULL
                   OR left((SELECT h.region FROM accounts a JOIN holders h ON h.id = a.holder_id
                            WHERE a.id = p_to), length(i.scope_region)) = i.scope_region)
            ORDER BY b.issuance_id, b.serial_start
            LIMIT chunk
            FOR UPDATE OF b
        LOOP
            EXIT chunks WHEN needed = 0;
            fetched := fetched + 1;
            last_issuance := blk.issuance_id;
            last_start := blk.serial_start;
            moved_start := blk.serial_start;
            IF blk.serial_end - blk.serial_start + 1 > needed THEN
                moved_end := blk.serial_start + needed - 1;
                UPDATE unit_blocks SET serial_start = moved_end + 1 WHERE id = blk.id;
                INSERT INTO unit_blocks (issuance_id, account_id, serial_start, serial_end, state)
                VALUES (blk.issuance_id, p_to, moved_start, moved_end, 'held')
                RETURNING id INTO moved_id;
            ELSE
                moved_end := blk.serial_end;
                moved_id := blk.id;
                UPDATE unit_blocks SET account_id = p_to, state = 'held', hold_id = NULL,
                       retirement_id = NULL, cancellation_id = NULL
                WHERE id = blk.id;
            END IF;
            needed := needed - (moved_end - moved_start + 1);
            moved_ids := moved_ids || moved_id;
            -- [issuance, first, last, from, to, "held"], as blocks.move records it
            moves := moves || CASE WHEN moves = '' THEN '[' ELSE ',[' END || blk.issuance_id
                     || ',' || moved_start || ',' || moved_end || ',' || p_from || ',' || p_to
                     || ',"held"]';
            serials := serials || qinglu_format_serial(
                p_product, blk.region, blk.project_id, blk.vintage, moved_start, moved_end);
        END LOOP;
        EXIT WHEN needed = 0 OR fetched < chunk;
    END LOOP chunks;
    IF needed > 0 THEN
        RAISE EXCEPTION 'insufficient units' USING ERRCODE = 'QL004',
            DETAIL = (p_quantity - needed)::text;
    END IF;
    moves := '[' || moves || ']';

    FOREACH moved_id IN ARRAY moved_ids LOOP
        SELECT id, issuance_id, serial_start, serial_end INTO blk
        FROM unit_blocks WHERE id = moved_id;
        CONTINUE WHEN NOT FOUND;  -- absorbed by an earlier merge
        -- Each neighbour in a few index pages whichever index the plan takes: the
        -- B-tree on (issuance_id, serial_end) or (issuance_id, serial_start), asked in
        -- its order for one row, or the GiST no-overlap index, given the serial the
        -- neighbour covers. With `issuance_id` and `serial_end` alone, PL/pgSQL's
        -- generic plan took the GiST index for `issuance_id` only and filtered every
        -- block of the issuance (thousands in a traded one: 62,000 rows read a transfer
        -- on the large ledger of bench/scale.py, whose generation slowed to 30/s).
        SELECT id, serial_start INTO nb FROM unit_blocks
        WHERE issuance_id = blk.issuance_id AND serial_end = blk.serial_start - 1
          AND int8range(serial_start, serial_end, '[]')
              && int8range(blk.serial_start - 1, blk.serial_start - 1, '[]')
          AND account_id = p_to AND state = 'held' AND hold_id IS NULL
          AND retirement_id IS NULL AND cancellation_id IS NULL
        ORDER BY issuance_id, serial_end LIMIT 1;
        IF FOUND THEN
            DELETE FROM unit_blocks WHERE id = blk.id;
            UPDATE unit_blocks SET serial_end = blk.serial_end WHERE id = nb.id;
            blk.id := nb.id;
            blk.serial_start := nb.serial_start;
        END IF;
        SELECT id, serial_end INTO nb FROM unit_blocks
        WHERE issuance_id = blk.issuance_id AND serial_start = blk.serial_end + 1
          AND int8range(serial_start, serial_end, '[]')
              && int8range(blk.serial_end + 1, blk.serial_end + 1, '[]')
          AND account_id = p_to AND state = 'held' AND hold_id IS NULL
          AND retirement_id IS NULL AND cancellation_id IS NULL
        ORDER BY issuance_id, serial_start LIMIT 1;
        IF FOUND THEN
            DELETE FROM unit_blocks WHERE id = nb.id;
            UPDATE unit_blocks SET serial_end = nb.serial_end WHERE id = blk.id;
        END IF;
    END LOOP;
END
$fn$;
