-- What every Supabase project has before its own migrations run, and what the
-- app's SQL assumes: the API roles, the auth schema with auth.uid() / role() /
-- jwt(), the storage schema, extensions, and Supabase's default grants.
--
-- Idempotent: it can run before a real Supabase migrations folder, or twice.

do $$
begin
    if not exists (select from pg_roles where rolname = 'anon') then
        create role anon nologin noinherit;
    end if;
    if not exists (select from pg_roles where rolname = 'authenticated') then
        create role authenticated nologin noinherit;
    end if;
    if not exists (select from pg_roles where rolname = 'service_role') then
        create role service_role nologin noinherit bypassrls;
    end if;
    if not exists (select from pg_roles where rolname = 'authenticator') then
        create role authenticator noinherit login;
    end if;
    if not exists (select from pg_roles where rolname = 'supabase_admin') then
        create role supabase_admin nologin;
    end if;
end $$;

grant anon, authenticated, service_role to authenticator;

-- Extensions live in their own schema on Supabase and are reached through
-- the search_path; uuid_generate_v4() is also called unqualified by app SQL,
-- so the database's search_path includes it.
create schema if not exists extensions;
create extension if not exists "uuid-ossp" with schema extensions;
create extension if not exists pgcrypto with schema extensions;
grant usage on schema extensions to anon, authenticated, service_role;
do $$
begin
    execute format('alter database %I set search_path = "$user", public, extensions',
                   current_database());
end $$;
set search_path = "$user", public, extensions;

-- auth -----------------------------------------------------------------------

create schema if not exists auth;
grant usage on schema auth to anon, authenticated, service_role;

create table if not exists auth.users (
    id         uuid primary key default extensions.uuid_generate_v4(),
    email      text unique,
    role       text default 'authenticated',
    raw_app_meta_data  jsonb default '{}'::jsonb,
    raw_user_meta_data jsonb default '{}'::jsonb,
    created_at timestamptz not null default now()
);

-- The JWT claims PostgREST puts in request.jwt.claims (and, on older
-- versions, request.jwt.claim.sub / .role); null when unset or empty.
create or replace function auth.jwt() returns jsonb
language sql stable as $$
    select coalesce(
        nullif(current_setting('request.jwt.claim', true), ''),
        nullif(current_setting('request.jwt.claims', true), '')
    )::jsonb
$$;

create or replace function auth.uid() returns uuid
language sql stable as $$
    select coalesce(
        nullif(current_setting('request.jwt.claim.sub', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
    )::uuid
$$;

create or replace function auth.role() returns text
language sql stable as $$
    select coalesce(
        nullif(current_setting('request.jwt.claim.role', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
    )::text
$$;

grant execute on function auth.uid(), auth.role(), auth.jwt()
    to anon, authenticated, service_role;

-- storage (referenced by real migration folders; empty here) -------------------

create schema if not exists storage;
grant usage on schema storage to anon, authenticated, service_role;
create table if not exists storage.buckets (
    id text primary key, name text not null unique, public boolean default false,
    created_at timestamptz default now()
);
create table if not exists storage.objects (
    id uuid primary key default extensions.uuid_generate_v4(),
    bucket_id text references storage.buckets (id), name text, owner uuid,
    created_at timestamptz default now()
);

-- Supabase's default privileges on public: the API roles get everything, so a
-- function in public is executable by anon and authenticated unless revoked.
grant usage on schema public to anon, authenticated, service_role;
grant all on all tables in schema public to anon, authenticated, service_role;
grant all on all functions in schema public to anon, authenticated, service_role;
grant all on all sequences in schema public to anon, authenticated, service_role;
alter default privileges in schema public
    grant all on tables to anon, authenticated, service_role;
alter default privileges in schema public
    grant all on functions to anon, authenticated, service_role;
alter default privileges in schema public
    grant all on sequences to anon, authenticated, service_role;
