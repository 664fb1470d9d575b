DROP INDEX idx_key_store_master;
DROP TABLE keymgr_retention_policy;
DROP TABLE keymgr_key_state_version;
DROP TABLE keymgr_key_state;
