-- release_session, exactly as the app's plan (01-session-integrity / 03,
-- DATA-01) wrote it: one guarded UPDATE, returning the new value or -1.
CREATE OR REPLACE FUNCTION public.release_session(p_purchase_id uuid)
RETURNS int
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
DECLARE
  v_sessions_used int;
BEGIN
  UPDATE public.client_purchases
  SET sessions_used = sessions_used - 1
  WHERE id = p_purchase_id
    AND sessions_used > 0
  RETURNING sessions_used INTO v_sessions_used;

  IF NOT FOUND THEN
    RETURN -1;
  END IF;

  RETURN v_sessions_used;
END;
$$;
