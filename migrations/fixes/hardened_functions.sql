-- CORRECT VARIANT, hardened for exposure through Supabase's API: what
-- `python -m harness security` asks of use_session and release_session.
--
-- * SET search_path = '': every name is schema-qualified, so a caller's
--   search_path cannot substitute its own objects under definer rights.
-- * Ownership: only a member of the purchase's org (owner or staff), the
--   service role, or a trusted server-side connection with no JWT (the
--   harness's own stress runs, migrations, cron jobs) may move the counter.
--   The check sits in the UPDATE's WHERE clause, so it adds no read before
--   the write: the guard, the ownership check and the change stay one atomic
--   step, and the concurrency properties still hold.
-- * A caller who may not change the purchase gets the no-op result (false /
--   -1), as for an empty or expired pack: the contract says these functions
--   never raise, and the answer does not reveal whether the id exists.
-- * EXECUTE revoked from PUBLIC and anon (Supabase grants it by default).
-- expect-security: none

create or replace function public.use_session(p_purchase_id uuid)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.client_purchases
     set sessions_used = sessions_used + 1
   where id = p_purchase_id
     and sessions_used < sessions_total
     and (expires_at is null or expires_at >= now())
     and (auth.role() is null
          or auth.role() = 'service_role'
          or public.is_org_member(org_id));
  return found;
end;
$$;

create or replace function public.release_session(p_purchase_id uuid)
returns int
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_sessions_used int;
begin
  update public.client_purchases
     set sessions_used = sessions_used - 1
   where id = p_purchase_id
     and sessions_used > 0
     and (auth.role() is null
          or auth.role() = 'service_role'
          or public.is_org_member(org_id))
  returning sessions_used into v_sessions_used;

  if not found then
    return -1;
  end if;
  return v_sessions_used;
end;
$$;

revoke execute on function public.use_session(uuid), public.release_session(uuid)
    from public, anon;
grant execute on function public.use_session(uuid), public.release_session(uuid)
    to authenticated, service_role;
