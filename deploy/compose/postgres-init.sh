#!/bin/sh
# First start of an empty PostgreSQL volume (docker-entrypoint-initdb.d): one role and one
# database for the coordinator and one for Synapse, each with its password from deploy/.env.
# Synapse needs the C collation (template0).
set -eu
psql -v ON_ERROR_STOP=1 --username postgres \
     -v dsx_pw="$COORDINATOR_DB_PASSWORD" -v synapse_pw="$SYNAPSE_DB_PASSWORD" <<'SQL'
CREATE ROLE dsx LOGIN PASSWORD :'dsx_pw';
CREATE DATABASE dsx OWNER dsx;
CREATE ROLE synapse LOGIN PASSWORD :'synapse_pw';
CREATE DATABASE synapse OWNER synapse TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C';
SQL
