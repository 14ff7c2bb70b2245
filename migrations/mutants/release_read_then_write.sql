-- MUTANT: the app's old Reinstate path (DATA-01) written as a function: read
-- sessions_used, then write the value computed from what was read.
-- What is wrong: two concurrent releases at sessions_used = 1 both read 1 and
-- both write 0: both report success, one decrement is lost (a committed step
-- 0 -> 0 in the audit trail; final 0 where 1 - 2 = -1). A release racing a
-- use can also overwrite the use (1 -> 2 then 2 -> 0). Sequentially right.
-- expect: no-lost-update, conservation, linearizable
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
   where id = p_purchase_id;

  if v_used is null or v_used <= 0 then
    return -1;
  end if;

  update public.client_purchases
     set sessions_used = v_used - 1
   where id = p_purchase_id;

  return v_used - 1;
end;
$$;
