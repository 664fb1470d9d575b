DROP TABLE keymgr_audit_log;
DROP TABLE keymgr_generation_lock;
DROP TABLE data_encrypt_keystore;
DROP TABLE partner_cert_store;
DROP TABLE ca_cert_store;
DROP TABLE key_policy_def;
DROP TABLE key_store;
DROP TABLE key_alias;
