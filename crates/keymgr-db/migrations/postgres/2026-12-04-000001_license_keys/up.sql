-- MOSIP's licence key tables (db_scripts/mosip_keymgr/ddl/keymgr-licensekey_*.sql,
-- keymgr-tsp_licensekey_map.sql), as MOSIP defines them, so an existing MOSIP database keeps
-- its keys. The foreign keys are MOSIP's too.

CREATE TABLE IF NOT EXISTS licensekey_list (
    license_key VARCHAR(255) NOT NULL PRIMARY KEY,
    created_dtime TIMESTAMP,
    expiry_dtime TIMESTAMP,
    is_active BOOLEAN NOT NULL,
    cr_by VARCHAR(256) NOT NULL,
    cr_dtimes TIMESTAMP NOT NULL,
    upd_by VARCHAR(256),
    upd_dtimes TIMESTAMP,
    is_deleted BOOLEAN DEFAULT FALSE,
    del_dtimes TIMESTAMP
);

CREATE TABLE IF NOT EXISTS licensekey_permission (
    license_key VARCHAR(255) NOT NULL PRIMARY KEY REFERENCES licensekey_list (license_key),
    permission VARCHAR(512),
    is_active BOOLEAN NOT NULL,
    cr_by VARCHAR(256) NOT NULL,
    cr_dtimes TIMESTAMP NOT NULL,
    upd_by VARCHAR(256),
    upd_dtimes TIMESTAMP,
    is_deleted BOOLEAN DEFAULT FALSE,
    del_dtimes TIMESTAMP
);

CREATE TABLE IF NOT EXISTS tsp_licensekey_map (
    tsp_id VARCHAR(36) NOT NULL,
    license_key VARCHAR(255) NOT NULL REFERENCES licensekey_list (license_key),
    is_active BOOLEAN NOT NULL,
    cr_by VARCHAR(256) NOT NULL,
    cr_dtimes TIMESTAMP NOT NULL,
    upd_by VARCHAR(256),
    upd_dtimes TIMESTAMP,
    is_deleted BOOLEAN DEFAULT FALSE,
    del_dtimes TIMESTAMP,
    PRIMARY KEY (tsp_id, license_key)
);
