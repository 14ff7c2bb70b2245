-- CORRECT VARIANT: the app's check-then-act use_session, with the check made
-- under a row lock (SELECT ... FOR UPDATE), so no other call can change the
-- pack between the check and the increment.
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
     for update;

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
