-- The MOSIP mosip_keymgr tables (schema keymgr, set as search_path by the connection), with MOSIP's column names and sizes (reference section 12).
-- IF NOT EXISTS and ON CONFLICT DO NOTHING: on a database that MOSIP's own db_scripts made, MOSIP's tables and seed rows
-- are kept as they are and only this service's tables and indexes are added (docs/MIGRATING.md).
CREATE TABLE IF NOT EXISTS key_alias (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    app_id VARCHAR(36) NOT NULL,
    ref_id VARCHAR(128),
    key_gen_dtimes TIMESTAMP,
    key_expire_dtimes TIMESTAMP,
    status_code VARCHAR(36),
    lang_code VARCHAR(3),
    cert_thumbprint VARCHAR(100),
    uni_ident VARCHAR(50) UNIQUE,
    cr_by VARCHAR(256) NOT NULL,
    cr_dtimes TIMESTAMP NOT NULL,
    upd_by VARCHAR(256),
    upd_dtimes TIMESTAMP,
    is_deleted BOOLEAN NOT NULL DEFAULT FALSE,
    del_dtimes TIMESTAMP
);
CREATE INDEX IF NOT EXISTS idx_key_alias_app_ref ON key_alias (app_id, ref_id, key_gen_dtimes);
CREATE INDEX IF NOT EXISTS idx_key_alias_thumbprint ON key_alias (cert_thumbprint);

CREATE TABLE IF NOT EXISTS key_store (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    master_key VARCHAR(36) NOT NULL,
    private_key VARCHAR(2500) NOT NULL,
    certificate_data VARCHAR NOT NULL,
    cr_by VARCHAR(256) NOT NULL,
    cr_dtimes TIMESTAMP NOT NULL,
    upd_by VARCHAR(256),
    upd_dtimes TIMESTAMP,
    is_deleted BOOLEAN NOT NULL DEFAULT FALSE,
    del_dtimes TIMESTAMP
);

CREATE TABLE IF NOT EXISTS key_policy_def (
    app_id VARCHAR(36) NOT NULL PRIMARY KEY,
    key_validity_duration SMALLINT,
    is_active BOOLEAN NOT NULL,
    pre_expire_days SMALLINT,
    access_allowed VARCHAR(1024),
    cr_by VARCHAR(256) NOT NULL,
    cr_dtimes TIMESTAMP NOT NULL,
    upd_by VARCHAR(256),
    upd_dtimes TIMESTAMP,
    is_deleted BOOLEAN NOT NULL DEFAULT FALSE,
    del_dtimes TIMESTAMP
);

CREATE TABLE IF NOT EXISTS ca_cert_store (
    cert_id VARCHAR(36) NOT NULL PRIMARY KEY,
    cert_subject VARCHAR(500) NOT NULL,
    cert_issuer VARCHAR(500) NOT NULL,
    issuer_id VARCHAR(36) NOT NULL,
    cert_not_before TIMESTAMP,
    cert_not_after TIMESTAMP,
    crl_uri VARCHAR(120),
    cert_data VARCHAR,
    cert_thumbprint VARCHAR(100),
    cert_serial_no VARCHAR(50),
    partner_domain VARCHAR(36),
    ca_cert_type VARCHAR(25),
    cr_by VARCHAR(256) NOT NULL,
    cr_dtimes TIMESTAMP NOT NULL,
    upd_by VARCHAR(256),
    upd_dtimes TIMESTAMP,
    is_deleted BOOLEAN NOT NULL DEFAULT FALSE,
    del_dtimes TIMESTAMP,
    UNIQUE (cert_thumbprint, partner_domain)
);
CREATE INDEX IF NOT EXISTS idx_ca_cert_store_domain ON ca_cert_store (partner_domain);

CREATE TABLE IF NOT EXISTS partner_cert_store (
    cert_id VARCHAR(36) NOT NULL PRIMARY KEY,
    cert_subject VARCHAR(500) NOT NULL,
    cert_issuer VARCHAR(500) NOT NULL,
    issuer_id VARCHAR(36) NOT NULL,
    cert_not_before TIMESTAMP,
    cert_not_after TIMESTAMP,
    partner_domain VARCHAR(36),
    cert_data VARCHAR,
    key_usage VARCHAR(150),
    organization_name VARCHAR(120),
    cert_thumbprint VARCHAR(100),
    cert_serial_no VARCHAR(50),
    signed_cert_data VARCHAR,
    cr_by VARCHAR(256) NOT NULL,
    cr_dtimes TIMESTAMP NOT NULL,
    upd_by VARCHAR(256),
    upd_dtimes TIMESTAMP,
    is_deleted BOOLEAN NOT NULL DEFAULT FALSE,
    del_dtimes TIMESTAMP
);

CREATE TABLE IF NOT EXISTS data_encrypt_keystore (
    id BIGINT NOT NULL PRIMARY KEY,
    key VARCHAR(64) NOT NULL,
    key_status VARCHAR(16),
    cr_by VARCHAR(256),
    cr_dtimes TIMESTAMP NOT NULL,
    upd_by VARCHAR(256),
    upd_dtimes TIMESTAMP
);

-- Our additions are new tables, never new meanings for MOSIP columns.

-- One row per (app, ref) whose key generation is serialised across processes and replicas:
-- the generator upserts the row first in its transaction and holds its lock until commit.
CREATE TABLE keymgr_generation_lock (
    app_id VARCHAR(36) NOT NULL,
    ref_id VARCHAR(128) NOT NULL,
    locked_at TIMESTAMP NOT NULL,
    PRIMARY KEY (app_id, ref_id)
);

-- Append-only record of what happened to keys.
CREATE TABLE keymgr_audit_log (
    id BIGSERIAL PRIMARY KEY,
    event_time TIMESTAMP NOT NULL,
    actor VARCHAR(256) NOT NULL,
    action VARCHAR(64) NOT NULL,
    app_id VARCHAR(36),
    ref_id VARCHAR(128),
    key_alias VARCHAR(36),
    detail VARCHAR
);
CREATE OR REPLACE FUNCTION keymgr_audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'keymgr_audit_log is append-only';
END;
$$;
CREATE TRIGGER keymgr_audit_log_append_only BEFORE UPDATE OR DELETE ON keymgr_audit_log
FOR EACH ROW EXECUTE FUNCTION keymgr_audit_log_append_only();

-- MOSIP's seed policies (validity and pre-expiry in days).
INSERT INTO key_policy_def (app_id, key_validity_duration, is_active, pre_expire_days, access_allowed, cr_by, cr_dtimes) VALUES
    ('PRE_REGISTRATION', 1095, TRUE, 60, 'NA', 'mosipadmin', (now() AT TIME ZONE 'UTC')),
    ('REGISTRATION', 1095, TRUE, 60, 'NA', 'mosipadmin', (now() AT TIME ZONE 'UTC')),
    ('REGISTRATION_PROCESSOR', 1095, TRUE, 60, 'NA', 'mosipadmin', (now() AT TIME ZONE 'UTC')),
    ('ID_REPO', 1095, TRUE, 60, 'NA', 'mosipadmin', (now() AT TIME ZONE 'UTC')),
    ('KERNEL', 1095, TRUE, 60, 'NA', 'mosipadmin', (now() AT TIME ZONE 'UTC')),
    ('RESIDENT', 1095, TRUE, 60, 'NA', 'mosipadmin', (now() AT TIME ZONE 'UTC')),
    ('ADMIN_SERVICES', 1095, TRUE, 60, 'NA', 'mosipadmin', (now() AT TIME ZONE 'UTC')),
    ('DIGITAL_CARD', 1095, TRUE, 60, 'NA', 'mosipadmin', (now() AT TIME ZONE 'UTC')),
    ('COMPLIANCE_TOOLKIT', 1095, TRUE, 60, 'NA', 'mosipadmin', (now() AT TIME ZONE 'UTC')),
    ('ROOT', 2920, TRUE, 1125, 'NA', 'mosipadmin', (now() AT TIME ZONE 'UTC')),
    ('BASE', 730, TRUE, 30, 'NA', 'mosipadmin', (now() AT TIME ZONE 'UTC')),
    ('PMS', 1460, TRUE, 395, 'NA', 'mosipadmin', (now() AT TIME ZONE 'UTC'))
ON CONFLICT (app_id) DO NOTHING;
