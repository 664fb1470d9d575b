DROP TABLE tsp_licensekey_map;
DROP TABLE licensekey_permission;
DROP TABLE licensekey_list;
