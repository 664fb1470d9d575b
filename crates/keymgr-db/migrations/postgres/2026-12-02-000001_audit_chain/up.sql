-- The audit log as a hash chain: each row carries the hash of the row before it and its own,
-- and keymgr_audit_head holds the chain's last row, so that writers on every replica append
-- to one chain (they take the head row's lock) and an edited, deleted, inserted or reordered
-- row shows. Rows written before this migration stay unchained, before the chain.
ALTER TABLE keymgr_audit_log ADD COLUMN prev_hash VARCHAR(64);
ALTER TABLE keymgr_audit_log ADD COLUMN row_hash VARCHAR(64);
CREATE TABLE keymgr_audit_head (
    id INTEGER NOT NULL PRIMARY KEY,
    last_id BIGINT NOT NULL,
    last_hash VARCHAR(64) NOT NULL
);
INSERT INTO keymgr_audit_head (id, last_id, last_hash)
SELECT 1, COALESCE(MAX(id), 0), '0000000000000000000000000000000000000000000000000000000000000000' FROM keymgr_audit_log;
