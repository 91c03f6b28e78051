"""Extensions created unbound and attached in create_app (Flask tutorial style)."""
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from engine.models import Base

# expire_on_commit=False: a view answers from the rows its step just wrote instead of reading them back.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()
csrf = CSRFProtect()
