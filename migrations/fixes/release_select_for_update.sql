-- CORRECT VARIANT: read-then-write release made safe with SELECT ... FOR UPDATE.
-- The row lock is taken by the read and held to the end of the transaction
-- (the whole call, in autocommit): a second caller's read waits for the first
-- to commit and then reads the committed value.
create or replace function public.release_session(p_purchase_id uuid)
returns int
language plpgsql
security definer
as $$
declare
  v_used int;
begin
  select sessions_used into v_used
    from public.client_purchases
   where id = p_purchase_id
     for update;

  if v_used is null or v_used <= 0 then
    return -1;
  end if;

  update public.client_purchases
     set sessions_used = v_used - 1
   where id = p_purchase_id;
  return v_used - 1;
end;
$$;
