DROP TABLE keymgr_audit_head;
ALTER TABLE keymgr_audit_log DROP COLUMN row_hash;
ALTER TABLE keymgr_audit_log DROP COLUMN prev_hash;
