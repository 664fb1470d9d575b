//! Diesel table definitions: the MOSIP tables (reference section 12) and our additions.

diesel::table! {
    key_alias (id) {
        id -> Varchar,
        app_id -> Varchar,
        ref_id -> Nullable<Varchar>,
        key_gen_dtimes -> Nullable<Timestamp>,
        key_expire_dtimes -> Nullable<Timestamp>,
        status_code -> Nullable<Varchar>,
        lang_code -> Nullable<Varchar>,
        cert_thumbprint -> Nullable<Varchar>,
        uni_ident -> Nullable<Varchar>,
        cr_by -> Varchar,
        cr_dtimes -> Timestamp,
        upd_by -> Nullable<Varchar>,
        upd_dtimes -> Nullable<Timestamp>,
        is_deleted -> Bool,
        del_dtimes -> Nullable<Timestamp>,
    }
}

diesel::table! {
    key_store (id) {
        id -> Varchar,
        master_key -> Varchar,
        private_key -> Varchar,
        certificate_data -> Varchar,
        cr_by -> Varchar,
        cr_dtimes -> Timestamp,
        upd_by -> Nullable<Varchar>,
        upd_dtimes -> Nullable<Timestamp>,
        is_deleted -> Bool,
        del_dtimes -> Nullable<Timestamp>,
    }
}

diesel::table! {
    key_policy_def (app_id) {
        app_id -> Varchar,
        key_validity_duration -> Nullable<SmallInt>,
        is_active -> Bool,
        pre_expire_days -> Nullable<SmallInt>,
        access_allowed -> Nullable<Varchar>,
        cr_by -> Varchar,
        cr_dtimes -> Timestamp,
        upd_by -> Nullable<Varchar>,
        upd_dtimes -> Nullable<Timestamp>,
        is_deleted -> Bool,
        del_dtimes -> Nullable<Timestamp>,
    }
}

diesel::table! {
    ca_cert_store (cert_id) {
        cert_id -> Varchar,
        cert_subject -> Varchar,
        cert_issuer -> Varchar,
        issuer_id -> Varchar,
        cert_not_before -> Nullable<Timestamp>,
        cert_not_after -> Nullable<Timestamp>,
        crl_uri -> Nullable<Varchar>,
        cert_data -> Nullable<Varchar>,
        cert_thumbprint -> Nullable<Varchar>,
        cert_serial_no -> Nullable<Varchar>,
        partner_domain -> Nullable<Varchar>,
        ca_cert_type -> Nullable<Varchar>,
        cr_by -> Varchar,
        cr_dtimes -> Timestamp,
        upd_by -> Nullable<Varchar>,
        upd_dtimes -> Nullable<Timestamp>,
        is_deleted -> Bool,
        del_dtimes -> Nullable<Timestamp>,
    }
}

diesel::table! {
    partner_cert_store (cert_id) {
        cert_id -> Varchar,
        cert_subject -> Varchar,
        cert_issuer -> Varchar,
        issuer_id -> Varchar,
        cert_not_before -> Nullable<Timestamp>,
        cert_not_after -> Nullable<Timestamp>,
        partner_domain -> Nullable<Varchar>,
        cert_data -> Nullable<Varchar>,
        key_usage -> Nullable<Varchar>,
        organization_name -> Nullable<Varchar>,
        cert_thumbprint -> Nullable<Varchar>,
        cert_serial_no -> Nullable<Varchar>,
        signed_cert_data -> Nullable<Varchar>,
        cr_by -> Varchar,
        cr_dtimes -> Timestamp,
        upd_by -> Nullable<Varchar>,
        upd_dtimes -> Nullable<Timestamp>,
        is_deleted -> Bool,
        del_dtimes -> Nullable<Timestamp>,
    }
}

diesel::table! {
    data_encrypt_keystore (id) {
        id -> BigInt,
        key -> Varchar,
        key_status -> Nullable<Varchar>,
        cr_by -> Nullable<Varchar>,
        cr_dtimes -> Timestamp,
        upd_by -> Nullable<Varchar>,
        upd_dtimes -> Nullable<Timestamp>,
    }
}

diesel::table! {
    keymgr_generation_lock (app_id, ref_id) {
        app_id -> Varchar,
        ref_id -> Varchar,
        locked_at -> Timestamp,
    }
}

diesel::table! {
    keymgr_audit_log (id) {
        id -> BigInt,
        event_time -> Timestamp,
        actor -> Varchar,
        action -> Varchar,
        app_id -> Nullable<Varchar>,
        ref_id -> Nullable<Varchar>,
        key_alias -> Nullable<Varchar>,
        detail -> Nullable<Varchar>,
        prev_hash -> Nullable<Varchar>,
        row_hash -> Nullable<Varchar>,
    }
}

diesel::table! {
    keymgr_audit_head (id) {
        id -> Integer,
        last_id -> BigInt,
        last_hash -> Varchar,
    }
}

diesel::table! {
    keymgr_key_state (key_alias) {
        key_alias -> Varchar,
        state -> Varchar,
        reason -> Nullable<Varchar>,
        response_complete -> Bool,
        recovery_until -> Nullable<Timestamp>,
        certificate_data -> Nullable<Varchar>,
        upd_by -> Varchar,
        upd_dtimes -> Timestamp,
    }
}

diesel::table! {
    keymgr_key_state_version (id) {
        id -> Integer,
        version -> BigInt,
    }
}

diesel::table! {
    keymgr_retention_policy (app_id) {
        app_id -> Varchar,
        retention_days -> Integer,
        upd_by -> Varchar,
        upd_dtimes -> Timestamp,
    }
}

diesel::table! {
    licensekey_list (license_key) {
        license_key -> Varchar,
        created_dtime -> Nullable<Timestamp>,
        expiry_dtime -> Nullable<Timestamp>,
        is_active -> Bool,
        cr_by -> Varchar,
        cr_dtimes -> Timestamp,
        upd_by -> Nullable<Varchar>,
        upd_dtimes -> Nullable<Timestamp>,
        is_deleted -> Nullable<Bool>,
        del_dtimes -> Nullable<Timestamp>,
    }
}

diesel::table! {
    licensekey_permission (license_key) {
        license_key -> Varchar,
        permission -> Nullable<Varchar>,
        is_active -> Bool,
        cr_by -> Varchar,
        cr_dtimes -> Timestamp,
        upd_by -> Nullable<Varchar>,
        upd_dtimes -> Nullable<Timestamp>,
        is_deleted -> Nullable<Bool>,
        del_dtimes -> Nullable<Timestamp>,
    }
}

diesel::table! {
    tsp_licensekey_map (tsp_id, license_key) {
        tsp_id -> Varchar,
        license_key -> Varchar,
        is_active -> Bool,
        cr_by -> Varchar,
        cr_dtimes -> Timestamp,
        upd_by -> Nullable<Varchar>,
        upd_dtimes -> Nullable<Timestamp>,
        is_deleted -> Nullable<Bool>,
        del_dtimes -> Nullable<Timestamp>,
    }
}

diesel::joinable!(tsp_licensekey_map -> licensekey_list (license_key));
diesel::allow_tables_to_appear_in_same_query!(licensekey_list, tsp_licensekey_map);
