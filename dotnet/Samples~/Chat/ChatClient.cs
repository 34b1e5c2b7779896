// A chat client for Unity in poll mode: the library never runs this code on
// its own threads; Update() drains the events each frame, so handlers may
// touch the scene. Talks to examples/c/chat_server.c (or its C++ twin):
//   auth {"name"}, "welcome" (id, room), "join" (room) + ack,
//   "chat" (text) + ack, "chat" (name, text) relayed to the room,
//   the server's "ready?" question answered with an ack.
// Add it to a GameObject, set Url / Player / Room, press Play.
using System.Collections.Generic;
using Oxsio;
using UnityEngine;

public sealed class ChatClient : MonoBehaviour
{
    public string Url = "http://127.0.0.1:3000/";
    public string Player = "unity";
    public string Room = "game";

    private Client client;
    private readonly List<string> lines = new List<string>();
    private string draft = "";

    private void Start()
    {
        // Poll mode is the default: handlers run inside client.Poll() in Update.
        client = new Client(Url, "{\"auth\":{\"name\":" + Quote(Player) + "}}");
        client.On("connect", e => Add("connected as " + client.Id));
        client.On("connect_error", e => Add("refused: " + e.Message));
        client.On("disconnect", e => Add("disconnected: " + e.Message));
        client.On("welcome", e => Join());
        client.On("chat", e => Add(e.GetString(0) + ": " + e.GetString(1)));
        client.On("ready?", e => e.Ack("[\"ready\"]"));
        client.Open();
    }

    private async void Join()
    {
        // The Task completes inside Poll(), on this thread; await resumes here too.
        var reply = await client.EmitWithAckAsync("join", "[" + Quote(Room) + "]");
        Add("joined " + reply.GetString(1));
    }

    private async void Send(string text)
    {
        try
        {
            var ack = await client.EmitWithAckAsync("chat", "[" + Quote(text) + "]", null, 5000);
            Add("(" + ack.GetString(0) + ")");
        }
        catch (OxsioException e)
        {
            Add("not delivered: " + e.Message);
        }
    }

    private void Update()
    {
        if (client != null) client.Poll();
    }

    private void OnGUI()
    {
        GUILayout.BeginArea(new Rect(10, 10, 480, 400));
        foreach (var l in lines) GUILayout.Label(l);
        GUILayout.BeginHorizontal();
        draft = GUILayout.TextField(draft, GUILayout.Width(380));
        if (GUILayout.Button("Send") && draft.Length > 0)
        {
            Send(draft);
            draft = "";
        }
        GUILayout.EndHorizontal();
        GUILayout.EndArea();
    }

    private void OnDestroy()
    {
        if (client != null) client.Dispose();
        client = null;
    }

    private void Add(string line)
    {
        lines.Add(line);
        if (lines.Count > 20) lines.RemoveAt(0);
        Debug.Log("chat: " + line);
    }

    private static string Quote(string s)
    {
        return "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
    }
}
