-- MUTANT: use_session that "locks" the row with FOR SHARE before checking,
-- then updates it.
-- What is wrong: a shared row lock does not keep another session from taking
-- one too; when two calls hold FOR SHARE and both try to UPDATE, each waits
-- for the other: PostgreSQL detects the deadlock and aborts one of them with
-- SQLSTATE 40P01. The pack is never over-used, but calls fail at random.
-- expect: no-raise
create or replace function public.use_session(p_purchase_id uuid)
returns boolean
language plpgsql
security definer
as $$
declare
  v_remaining int;
  v_expires_at timestamptz;
begin
  select sessions_remaining, expires_at
    into v_remaining, v_expires_at
    from public.client_purchases
   where id = p_purchase_id
     for share;

  if v_remaining is null or v_remaining <= 0 then
    return false;
  end if;
  if v_expires_at is not null and v_expires_at < now() then
    return false;
  end if;

  update public.client_purchases
     set sessions_used = sessions_used + 1
   where id = p_purchase_id;
  return true;
end;
$$;
