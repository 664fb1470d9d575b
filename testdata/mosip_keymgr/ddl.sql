\c mosip_keymgr 

\ir ddl/keymgr-key_alias.sql
\ir ddl/keymgr-key_policy_def.sql
\ir ddl/keymgr-key_store.sql
\ir ddl/keymgr-data_encrypt_keystore.sql
\ir ddl/keymgr-ca_cert_store.sql
\ir ddl/keymgr-partner_cert_store.sql
\ir ddl/keymgr-licensekey_list.sql
\ir ddl/keymgr-licensekey_permission.sql
\ir ddl/keymgr-tsp_licensekey_map.sql
\ir ddl/keymgr-fk.sql

