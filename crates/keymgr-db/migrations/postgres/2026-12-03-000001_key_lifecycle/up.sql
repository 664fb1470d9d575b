-- Key lifecycle (ours, beside MOSIP's tables, which keep their meaning for MOSIP tools).
-- keymgr_key_state holds the states an operator gave a key (deactivated, compromised,
-- destroyed); a key without a row takes its state from its dates. recovery_until is the end
-- of the window in which a compromised key may still decrypt (each use audited);
-- certificate_data keeps the certificate of a destroyed keystore key, whose objects are gone;
-- response_complete says whether the compromise response of a compromised key finished (a
-- run that stopped is resumed by the next one).
CREATE TABLE keymgr_key_state (
    key_alias VARCHAR(36) NOT NULL PRIMARY KEY,
    state VARCHAR(16) NOT NULL,
    reason VARCHAR(1024),
    response_complete BOOLEAN NOT NULL DEFAULT FALSE,
    recovery_until TIMESTAMP,
    certificate_data TEXT,
    upd_by VARCHAR(256) NOT NULL,
    upd_dtimes TIMESTAMP NOT NULL
);
-- Bumped in the transaction of every change of keymgr_key_state, so that each replica
-- re-reads the states when (and only when) another one changed them.
CREATE TABLE keymgr_key_state_version (
    id INTEGER NOT NULL PRIMARY KEY,
    version BIGINT NOT NULL
);
INSERT INTO keymgr_key_state_version (id, version) VALUES (1, 0);
-- How long an application's keys are kept after they expire before keymgr retire may destroy
-- them; an application without a row has the configured default.
CREATE TABLE keymgr_retention_policy (
    app_id VARCHAR(36) NOT NULL PRIMARY KEY,
    retention_days INTEGER NOT NULL,
    upd_by VARCHAR(256) NOT NULL,
    upd_dtimes TIMESTAMP NOT NULL
);
-- Rewrap and retirement find a master's children by master_key.
CREATE INDEX IF NOT EXISTS idx_key_store_master ON key_store (master_key);
