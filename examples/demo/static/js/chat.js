// The chat room: a WebSocket to ws/chat/<room>/, messages shown as they arrive. A logged-in
// user chats under their name (the server reads it from the session cookie); an anonymous one
// as "anonymous", or as ?user=NAME.
const panel = document.querySelector(".chat");
const room = panel.dataset.room;
const nickname = new URLSearchParams(location.search).get("user");
const user = panel.dataset.user || nickname || "anonymous";
const scheme = location.protocol === "https:" ? "wss" : "ws";
const query = nickname ? `?user=${encodeURIComponent(nickname)}` : "";
const socket = new WebSocket(`${scheme}://${location.host}/ws/chat/${encodeURIComponent(room)}/${query}`);
const status = document.getElementById("status");
socket.onopen = () => { status.textContent = `connected as ${user}`; status.className = "status online"; };
socket.onclose = () => { status.textContent = "disconnected"; status.className = "status"; };
socket.onmessage = (e) => {
  const data = JSON.parse(e.data);
  const li = document.createElement("li");
  if (data.error) li.textContent = `error: ${data.error}`;
  else if (data.notice) { li.textContent = data.notice; li.className = "notice"; }
  else {
    const who = document.createElement("b");
    who.textContent = `${data.user}: `;
    li.append(who, document.createTextNode(data.message));
  }
  const log = document.getElementById("log");
  log.appendChild(li);
  log.scrollTop = log.scrollHeight;
};
document.getElementById("form").onsubmit = (e) => {
  e.preventDefault();
  const input = document.getElementById("text");
  if (socket.readyState !== WebSocket.OPEN || !input.value) return;
  socket.send(JSON.stringify({ message: input.value }));
  input.value = "";
};
