import { session } from "../api.js";
import { initPage } from "../ui.js";

if (session.signedIn()) location.replace("/status");
else initPage();
