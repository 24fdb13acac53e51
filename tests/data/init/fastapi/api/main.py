from fastapi import FastAPI

api = FastAPI()


@api.get("/healthz")
def healthz():
    return {"ok": True}
